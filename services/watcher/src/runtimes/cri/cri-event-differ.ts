// Turns the difference between two states of a CRI container or pod sandbox into the bus's
// normalized events, the way the Kubernetes runtime does for pods. A state is read as a set of
// facts, each with a deterministic id made of the pod's uid, the container's name and its
// attempt ("run 2 of container web in pod <uid> died"); the events are the facts of the new
// state that the old one did not have. So a live poll, the first poll after a restart of the
// watcher (compared with what it recorded) and a repeat of either all give the same ids, and
// JetStream stores each fact once. Pure, so every mapping is unit-tested.
import type { EventKind, EventMessage } from "@crowsnest/shared/agent";
import { nanosToTimestamp } from "../../time/nano-time.ts";
import { containerBusId, criContainerLabels, sandboxLabels } from "./cri-identity.ts";
import type { CriContainerRecord, CriSandboxRecord } from "./cri-status-cache.ts";

export interface CriDiffContext {
  readonly host: string;
  /** True when the change was inferred after a gap (a restart of the watcher, polls that failed). */
  readonly synthesized: boolean;
  /** The time of a fact the runtime gives no time for (ms). */
  readonly nowMs: number;
}

/** The order of one container's facts at the same time. */
const ORDER: Readonly<Record<string, number>> = {
  create: 0,
  start: 1,
  restart: 2,
  oom: 3,
  die: 4,
  destroy: 5,
};

function message(
  context: CriDiffContext,
  kind: EventKind,
  action: string,
  id: string,
  actor: EventMessage["actor"],
  tsNano: bigint | undefined,
  extra: Partial<Pick<EventMessage, "image" | "exit_code" | "oom_killed">> & {
    attributes: Record<string, string>;
  },
): EventMessage {
  return {
    v: 1,
    event_id: id,
    host: context.host,
    runtime: "cri",
    kind,
    action,
    actor,
    ts: nanosToTimestamp(tsNano ?? BigInt(context.nowMs) * 1_000_000n),
    ts_nano: tsNano === undefined ? null : tsNano.toString(),
    image: extra.image ?? null,
    exit_code: extra.exit_code ?? null,
    oom_killed: extra.oom_killed ?? null,
    signal: null,
    health_status: null,
    synthesized: context.synthesized,
    attributes: extra.attributes,
  };
}

/** The id every fact of one container run starts with. */
export function containerRunId(host: string, record: CriContainerRecord): string {
  return `${host}/cri/${record.podUid}/${record.name}/${record.attempt}`;
}

function containerFacts(record: CriContainerRecord, context: CriDiffContext): EventMessage[] {
  const base = containerRunId(context.host, record);
  const busId = containerBusId(record);
  const actor = { external_id: busId, name: busId };
  const labels = criContainerLabels(record);
  const image = record.image === "" ? null : record.image;
  const facts: EventMessage[] = [];
  const add = (
    action: string,
    tsNano: bigint | undefined,
    extra: Partial<Pick<EventMessage, "exit_code" | "oom_killed">> = {},
    attributes: Record<string, string> = {},
  ): void => {
    facts.push(
      message(context, "container", action, `${base}/${action}`, actor, tsNano, {
        image,
        ...extra,
        attributes: { ...labels, restart_count: String(record.attempt), ...attributes },
      }),
    );
  };
  add("create", record.createdAtNano > 0n ? record.createdAtNano : undefined);
  if (record.startedAtNano !== undefined) {
    add("start", record.startedAtNano);
    // Run n + 1 of a container is its n-th restart (the kubelet's attempt counts them).
    if (record.attempt > 0) add("restart", record.startedAtNano);
  }
  if (record.state === "exited") {
    const oomKilled = record.reason === "OOMKilled";
    const reason = record.reason === "" ? {} : { reason: record.reason };
    // containerd records a start once the task's Start returns: for a process that exits at
    // once, after its exit. Its end is then put at its start, so that the die follows the start.
    const started = record.startedAtNano;
    const finished =
      record.finishedAtNano !== undefined && started !== undefined && record.finishedAtNano < started
        ? started
        : record.finishedAtNano;
    if (oomKilled) add("oom", finished, {}, reason);
    add(
      "die",
      finished,
      { exit_code: record.exitCode, oom_killed: oomKilled },
      {
        ...reason,
        ...(record.message === "" ? {} : { message: record.message }),
        ...(record.exitCode === null ? {} : { exitCode: String(record.exitCode) }),
      },
    );
  }
  return facts;
}

function newFacts(before: readonly EventMessage[], after: readonly EventMessage[]): EventMessage[] {
  const known = new Set(before.map((fact) => fact.event_id));
  return after.filter((fact) => !known.has(fact.event_id));
}

/**
 * The events between two states of one CRI container: `before` undefined for a container not
 * seen before, `after` undefined for one that is gone. `busIdRemains`: whether another run of
 * the same pod container is still there (then a removed run is not the container's destroy).
 */
export function diffCriContainer(
  before: CriContainerRecord | undefined,
  after: CriContainerRecord | undefined,
  context: CriDiffContext,
  busIdRemains: boolean,
): EventMessage[] {
  if (after !== undefined) {
    return newFacts(
      before === undefined ? [] : containerFacts(before, context),
      containerFacts(after, context),
    );
  }
  if (before === undefined) return [];
  const events: EventMessage[] = [];
  const base = containerRunId(context.host, before);
  const busId = containerBusId(before);
  const actor = { external_id: busId, name: busId };
  const attributes = { ...criContainerLabels(before), restart_count: String(before.attempt) };
  const image = before.image === "" ? null : before.image;
  // Removed while it ran (forced): it stopped first, with no exit the runtime kept.
  if (before.state === "running") {
    events.push(message(context, "container", "die", `${base}/die`, actor, undefined, { image, attributes }));
  }
  if (!busIdRemains) {
    events.push(
      message(context, "container", "destroy", `${base}/destroy`, actor, undefined, { image, attributes }),
    );
  }
  return events;
}

function sandboxActor(sandbox: CriSandboxRecord): EventMessage["actor"] {
  const name = `${sandbox.namespace}/${sandbox.name}`;
  return { external_id: name, name };
}

/**
 * The events between two states of one pod sandbox: `ready` and `not_ready` (each once per
 * sandbox attempt), and `delete` when the pod's last sandbox is gone (`uidRemains` false), after
 * a `not_ready` when no poll saw it stopped.
 */
export function diffCriSandbox(
  before: CriSandboxRecord | undefined,
  after: CriSandboxRecord | undefined,
  context: CriDiffContext,
  uidRemains: boolean,
): EventMessage[] {
  const sandbox = after ?? before;
  if (sandbox === undefined) return [];
  const base = `${context.host}/cri/${sandbox.uid}/sandbox/${sandbox.attempt}`;
  const attributes = { ...sandboxLabels(sandbox), "io.kubernetes.pod.sandbox.id": sandbox.id };
  if (after === undefined) {
    if (uidRemains) return [];
    const actor = sandboxActor(sandbox);
    const deleted = message(context, "pod", "delete", `${base}/delete`, actor, undefined, { attributes });
    // Stopped and removed between two polls: it stopped being ready first, as a container
    // removed while it ran died first. Its own id, so published once whichever poll saw it.
    if (sandbox.state !== "ready") return [deleted];
    return [
      message(context, "pod", "not_ready", `${base}/not_ready`, actor, undefined, { attributes }),
      deleted,
    ];
  }
  if (before?.state === after.state) return [];
  const action = after.state === "ready" ? "ready" : "not_ready";
  // A sandbox is ready from its creation on; the time it stopped being ready is not kept.
  const tsNano = action === "ready" ? after.createdAtNano : undefined;
  return [message(context, "pod", action, `${base}/${action}`, sandboxActor(after), tsNano, { attributes })];
}

/** The events of one poll in the order they happened (by time, then a run's own order). */
export function inTimeOrder(events: readonly EventMessage[]): EventMessage[] {
  const nanoOf = (event: EventMessage): bigint =>
    event.ts_nano === null ? BigInt(Date.parse(event.ts)) * 1_000_000n : BigInt(event.ts_nano);
  return events
    .map((event, index) => ({ event, index, nano: nanoOf(event) }))
    .sort((a, b) => {
      if (a.nano !== b.nano) return a.nano < b.nano ? -1 : 1;
      const rank = (ORDER[a.event.action] ?? 9) - (ORDER[b.event.action] ?? 9);
      return rank !== 0 ? rank : a.index - b.index;
    })
    .map((entry) => entry.event);
}
