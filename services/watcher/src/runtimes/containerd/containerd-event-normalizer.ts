// Turns one containerd event into the bus's normalized event message, the same one a Docker host
// publishes for the same change: `/tasks/start` → start, `/tasks/exit` of a task's own process →
// die (exit code, exit time), `/tasks/oom` → oom, `/tasks/paused|resumed` → pause|unpause,
// `/containers/create|delete` → create|destroy, a `/containers/update` that changes nerdctl's name
// label → rename. `/tasks/create` and `/tasks/delete` (a task made before its start, removed
// after its exit) and an exec's exit have no counterpart and are skipped. Pure (who the container
// is and whether an oom came before are passed in as questions), so every mapping is unit-tested.
import type { EventMessage } from "@crowsnest/shared/agent";
import {
  type ContainerdEvent,
  containerdContainerName,
  containerdExternalId,
} from "@crowsnest/shared/containerd";
import { timestampNanos } from "./containerd-container-mapper.ts";

/** What the watcher knows of a container when one of its events arrives. */
export interface KnownIdentity {
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ContainerdNormalizeContext {
  readonly host: string;
  /** The container's name, image and labels (the event carries only its id), or undefined. */
  readonly identity: (namespace: string, id: string) => KnownIdentity | undefined;
  /** For a `die` with exit status 137: whether an `oom` of the same container came just before. */
  readonly wasOomKilled: (externalId: string, timeNano: bigint) => boolean;
}

export type ContainerdNormalizeResult =
  | { readonly kind: "event"; readonly event: EventMessage }
  | { readonly kind: "skipped" }
  | { readonly kind: "invalid"; readonly detail: string };

// The end of year 9999: later times have no RFC 3339 form.
const MAX_TIME_NANO = 253_402_300_799_999_999_999n;

const TASK_ACTIONS: Readonly<Record<string, string>> = {
  "/tasks/start": "start",
  "/tasks/exit": "die",
  "/tasks/oom": "oom",
  "/tasks/paused": "pause",
  "/tasks/resumed": "unpause",
};

const CONTAINER_ACTIONS: Readonly<Record<string, string>> = {
  "/containers/create": "create",
  "/containers/update": "rename",
  "/containers/delete": "destroy",
};

/** Unique per real-world event; also the JetStream message id, so a replay is stored once. */
export function containerdEventId(host: string, timeNano: bigint, id: string, action: string): string {
  return `${host}/containerd/${timeNano}/${id}/${action}`;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** An update event's labels (a protobuf map, decoded as an object of strings). */
export function labelsOf(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null) return {};
  return Object.fromEntries(
    Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
  );
}

export function normalizeContainerdEvent(
  event: ContainerdEvent,
  context: ContainerdNormalizeContext,
): ContainerdNormalizeResult {
  const taskAction = TASK_ACTIONS[event.topic];
  const action = taskAction ?? CONTAINER_ACTIONS[event.topic];
  if (action === undefined) return { kind: "skipped" };
  const payload = event.payload;
  if (payload === undefined)
    return { kind: "invalid", detail: `${event.topic} event without a readable payload` };
  const id = text(taskAction === undefined ? payload.id : payload.container_id);
  if (id === "") return { kind: "invalid", detail: `${event.topic} event without a container id` };
  // An exec's process exiting is not the container's death; a task's own process has its id.
  const processId = text(payload.id);
  if (action === "die" && processId !== "" && processId !== id) return { kind: "skipped" };

  const known = context.identity(event.namespace, id);
  let name = known?.name ?? id;
  let image = known?.image ?? "";
  let labels: Readonly<Record<string, string>> = known?.labels ?? {};
  const attributes: Record<string, string> = {};
  if (action === "create") image = text(payload.image) || image;
  if (action === "rename") {
    // An update brings the container's labels: a rename only when nerdctl's name changed.
    const updated = labelsOf(payload.labels);
    const newName = containerdContainerName({ id, labels: updated });
    if (known === undefined || newName === known.name) return { kind: "skipped" };
    attributes.oldName = `/${known.name}`;
    name = newName;
    labels = updated;
    image = text(payload.image) || image;
  }

  const exitedAt = action === "die" ? timestampNanos(timestampOf(payload.exited_at)) : undefined;
  const timeNano = exitedAt ?? timestampNanos(event.timestamp);
  if (timeNano === undefined || timeNano <= 0n || timeNano > MAX_TIME_NANO) {
    return { kind: "invalid", detail: `${event.topic} event of ${id} without a usable time` };
  }
  const busId = containerdExternalId(event.namespace, id);
  const exitCode = action === "die" && typeof payload.exit_status === "number" ? payload.exit_status : null;
  // The kernel's OOM killer sends SIGKILL: 128 + 9. Another exit after an `oom` (of a child
  // process, say) is not an OOM death of the container.
  const oomKilled = action === "die" ? exitCode === 137 && context.wasOomKilled(busId, timeNano) : null;
  return {
    kind: "event",
    event: {
      v: 1,
      event_id: containerdEventId(context.host, timeNano, busId, action),
      host: context.host,
      runtime: "containerd",
      kind: "container",
      action,
      actor: { external_id: busId, name },
      ts: new Date(Number(timeNano / 1_000_000n)).toISOString(),
      ts_nano: timeNano.toString(),
      image: image === "" ? null : image,
      exit_code: exitCode,
      oom_killed: oomKilled,
      signal: null,
      health_status: null,
      synthesized: false,
      // As Docker's: the container's labels, its image and name, a die's exit code.
      attributes: {
        ...labels,
        ...(image === "" ? {} : { image }),
        name,
        ...(exitCode === null ? {} : { exitCode: String(exitCode) }),
        ...attributes,
      },
    },
  };
}

function timestampOf(value: unknown): { seconds: number; nanos: number } | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { seconds, nanos } = value as { seconds?: unknown; nanos?: unknown };
  if (typeof seconds !== "number" || typeof nanos !== "number" || seconds <= 0) return undefined;
  return { seconds, nanos };
}
