// Reads one line of dockerd's event stream into a typed record. `timeNano` (around 1.8e18)
// does not fit a JSON number losslessly, so it is taken from the source text as digits;
// it is part of every event id, and a replayed event must get the same id as the original.

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

export function parseDockerEventLine(line: string): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(line, keepTimeNanoDigits);
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
