// Reads one line of dockerd's event stream into a typed record. `timeNano` (around 1.8e18)
// does not fit a JSON number losslessly, so it is taken from the source text as digits;
// it is part of every event id, and a replayed event must get the same id as the original.
//
// The digits are found in the line itself (dockerd writes `"timeNano":<digits>` last) and kept
// when they are the number JSON.parse read; only otherwise is the line parsed again with a
// reviver that JSON.parse hands each number's source. A reviver is a JavaScript call for every
// key of the event, labels included: without a JIT (the watcher runs with --lite-mode), that
// was most of what reading an event cost.

/** One Docker engine event, as much of it as the watcher uses. */
export interface DockerEvent {
  /** `container`, `network`, `image`, … */
  readonly type: string;
  /** Docker's action, possibly with a detail: `die`, `health_status: healthy`, `exec_start: sh -c …`. */
  readonly action: string;
  readonly actorId: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** Nanoseconds since the epoch as decimal digits, when dockerd sent them. */
  readonly timeNano: string | undefined;
  /** Seconds since the epoch. */
  readonly timeSeconds: number | undefined;
  /** Legacy top-level image reference of container events. */
  readonly from: string | undefined;
}

export type ParseResult =
  | { readonly ok: true; readonly event: DockerEvent }
  | { readonly ok: false; readonly detail: string };

interface SourceContext {
  source?: string;
}

// JSON.parse source text access (Node >= 21) hands the reviver the literal digits of numbers.
function keepTimeNanoDigits(key: string, value: unknown, context?: SourceContext): unknown {
  if (key !== "timeNano" || typeof value !== "number") return value;
  const source = context?.source;
  if (source !== undefined && /^\d+$/.test(source)) return source;
  // Without source access the value is already rounded; still the best there is.
  return Number.isFinite(value) && value >= 0 ? BigInt(Math.trunc(value)).toString() : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function stringAttributes(value: unknown): Record<string, string> {
  const attributes: Record<string, string> = {};
  if (!isRecord(value)) return attributes;
  for (const [key, entry] of Object.entries(value)) {
    // Docker's attributes are map[string]string; anything else is not an attribute.
    if (typeof entry === "string") attributes[key] = entry;
  }
  return attributes;
}

const TIME_NANO_KEY = '"timeNano":';
/** Sticky: the digits of a number starting right after the key, and nothing else in the number. */
const DIGITS_AFTER_KEY = /\s*(\d+)(?=\s*[,}])/y;

/** The digits of the line's last `"timeNano":` number, if they are the number JSON.parse read as `parsed`. */
function timeNanoDigitsInLine(line: string, parsed: number): string | undefined {
  const at = line.lastIndexOf(TIME_NANO_KEY);
  if (at === -1) return undefined;
  DIGITS_AFTER_KEY.lastIndex = at + TIME_NANO_KEY.length;
  const digits = DIGITS_AFTER_KEY.exec(line)?.[1];
  return digits !== undefined && Number(digits) === parsed ? digits : undefined;
}

/**
 * The line's JSON with a top-level `timeNano` number as its decimal digits (keepTimeNanoDigits
 * does the same to every `timeNano` number, at the cost of a call per key).
 */
function parseKeepingTimeNano(line: string): unknown {
  const json: unknown = JSON.parse(line);
  if (!isRecord(json) || typeof json.timeNano !== "number") return json;
  const digits = timeNanoDigitsInLine(line, json.timeNano);
  if (digits === undefined) return JSON.parse(line, keepTimeNanoDigits);
  json.timeNano = digits;
  return json;
}

export function parseDockerEventLine(line: string): ParseResult {
  let json: unknown;
  try {
    json = parseKeepingTimeNano(line);
  } catch (error) {
    return { ok: false, detail: `not JSON: ${(error as Error).message}` };
  }
  if (!isRecord(json)) return { ok: false, detail: "not a JSON object" };
  const actor = isRecord(json.Actor) ? json.Actor : {};
  // Before API 1.22 events had only status/id/from, and were all about containers.
  const legacyStatus = stringOrUndefined(json.status);
  const type = stringOrUndefined(json.Type) ?? (legacyStatus === undefined ? undefined : "container");
  const action = stringOrUndefined(json.Action) ?? legacyStatus;
  if (type === undefined) return { ok: false, detail: "no Type" };
  if (action === undefined || action === "") return { ok: false, detail: "no Action" };
  const timeNano = stringOrUndefined(json.timeNano);
  const timeSeconds = typeof json.time === "number" && Number.isFinite(json.time) ? json.time : undefined;
  return {
    ok: true,
    event: {
      type,
      action,
      actorId: stringOrUndefined(actor.ID) ?? stringOrUndefined(json.id) ?? "",
      attributes: stringAttributes(actor.Attributes),
      timeNano: timeNano !== undefined && /^\d+$/.test(timeNano) ? timeNano : undefined,
      timeSeconds,
      from: stringOrUndefined(json.from),
    },
  };
}
