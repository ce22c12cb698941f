// Turns one Docker engine event into the bus's normalized event message. This is the one
// place that knows how Docker names container actions and attributes; it is pure (the OOM
// memory is passed in as a question), so every mapping is unit-tested.
import { type EventMessage, isHealthStatus, type KNOWN_EVENT_ACTIONS } from "@crowsnest/shared/agent";
import type { DockerEvent } from "./docker-event-parser.ts";

/** Container actions published, by Docker's action word; exec_*, attach, resize and the like are noise. */
const PUBLISHED_ACTIONS: ReadonlySet<string> = new Set([
  "create",
  "start",
  "restart",
  "stop",
  "kill",
  "die",
  "oom",
  "pause",
  "unpause",
  "destroy",
  "rename",
  "health_status",
] satisfies (typeof KNOWN_EVENT_ACTIONS)[number][]);

export type NormalizeResult =
  | { readonly kind: "event"; readonly event: EventMessage }
  | { readonly kind: "skipped"; readonly reason: "not_a_container" | "not_a_lifecycle_action" }
  | { readonly kind: "invalid"; readonly detail: string };

export interface NormalizeContext {
  /** The host token of subjects and event ids. */
  readonly host: string;
  /** For a `die` with exit code 137: whether an `oom` of the same container came just before (see OomMemory). */
  readonly wasOomKilled: (containerId: string, timeNano: bigint) => boolean;
  /** True for events inferred after a reconnect rather than seen. */
  readonly synthesized?: boolean;
}

/** `health_status: healthy` → `{ action: "health_status", detail: "healthy" }`. */
export function splitDockerAction(raw: string): { action: string; detail: string | undefined } {
  const colon = raw.indexOf(":");
  if (colon === -1) return { action: raw.trim(), detail: undefined };
  return { action: raw.slice(0, colon).trim(), detail: raw.slice(colon + 1).trim() };
}

/** The event's time in nanoseconds: `timeNano` when dockerd gives it, else `time` × 1e9. */
export function dockerEventTimeNano(event: DockerEvent): bigint | undefined {
  if (event.timeNano !== undefined && event.timeNano !== "0") return BigInt(event.timeNano);
  if (event.timeSeconds !== undefined && event.timeSeconds > 0) {
    return BigInt(Math.trunc(event.timeSeconds)) * 1_000_000_000n;
  }
  return undefined;
}

/** Unique per real-world event; also the JetStream message id, so a replay is stored once. */
export function dockerEventId(host: string, timeNano: bigint, containerId: string, action: string): string {
  return `${host}/docker/${timeNano}/${containerId}/${action}`;
}

function parseExitCode(raw: string | undefined): number | null {
  if (raw === undefined || !/^-?\d+$/.test(raw.trim())) return null;
  const code = Number(raw);
  return Number.isSafeInteger(code) ? code : null;
}

// The end of year 9999: later times have no RFC 3339 form (toISOString would throw),
// and no real dockerd sends them.
const MAX_TIME_NANO = 253_402_300_799_999_999_999n;

export function normalizeDockerEvent(event: DockerEvent, context: NormalizeContext): NormalizeResult {
  if (event.type !== "container") return { kind: "skipped", reason: "not_a_container" };
  const { action, detail } = splitDockerAction(event.action);
  if (!PUBLISHED_ACTIONS.has(action)) return { kind: "skipped", reason: "not_a_lifecycle_action" };
  const containerId = event.actorId;
  if (containerId === "") return { kind: "invalid", detail: `${action} event without a container id` };
  const timeNano = dockerEventTimeNano(event);
  if (timeNano === undefined || timeNano > MAX_TIME_NANO) {
    return { kind: "invalid", detail: `${action} event of ${containerId} without a usable time` };
  }
  const { attributes } = event;

  let health: EventMessage["health_status"] = null;
  if (action === "health_status") {
    // Docker 20.10 puts the status in the action word; accept an attribute as well.
    const status = detail ?? attributes.health_status;
    health = isHealthStatus(status) ? status : null;
  }
  const image = attributes.image ?? event.from;
  const exitCode = action === "die" ? parseExitCode(attributes.exitCode) : null;
  // The kernel's OOM killer sends SIGKILL: 128 + 9. Another exit after an `oom` (of a child
  // process, say) is not an OOM death of the container.
  const oomKilled = action === "die" ? exitCode === 137 && context.wasOomKilled(containerId, timeNano) : null;

  return {
    kind: "event",
    event: {
      v: 1,
      event_id: dockerEventId(context.host, timeNano, containerId, action),
      host: context.host,
      runtime: "docker",
      kind: "container",
      action,
      actor: { external_id: containerId, name: (attributes.name ?? "").replace(/^\//, "") },
      ts: new Date(Number(timeNano / 1_000_000n)).toISOString(),
      ts_nano: timeNano.toString(),
      image: image === undefined || image === "" ? null : image,
      exit_code: exitCode,
      oom_killed: oomKilled,
      signal: action === "kill" ? (attributes.signal ?? null) : null,
      health_status: health,
      synthesized: context.synthesized ?? false,
      attributes: { ...attributes },
    },
  };
}
