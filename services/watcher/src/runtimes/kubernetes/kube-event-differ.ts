// Turns the difference between two states of a Kubernetes object into the bus's normalized
// events. Each state is read as a set of facts ("instance 3 of container web died", "the pod
// was scheduled"), each with a deterministic id; the events are the facts of the new state
// that the old one did not have. So a live watch event, a re-list after a long outage and
// another replica seeing the same object all produce the same ids, JetStream stores each fact
// once, and a re-list emits exactly the transitions that were missed. Pure, so every mapping
// is unit-tested.
import type { EventKind, EventMessage } from "@crowsnest/shared/agent";
import { podContainerLabels, podLabels } from "./kube-labels.ts";
import type {
  ContainerStatusState,
  NodeState,
  PodState,
  ServiceState,
  TerminatedState,
} from "./kube-objects.ts";

export interface DiffContext {
  readonly host: string;
  /** True when the change was inferred from a re-list, not seen on the watch. */
  readonly synthesized: boolean;
  /** Fallback time for facts Kubernetes gives no time for. */
  readonly now: () => string;
}

interface Fact {
  readonly id: string;
  readonly event: EventMessage;
}

function message(
  context: DiffContext,
  kind: EventKind,
  action: string,
  id: string,
  actor: EventMessage["actor"],
  ts: string | null,
  extra: Partial<Pick<EventMessage, "image" | "exit_code" | "oom_killed">> & {
    attributes: Record<string, string>;
  },
): EventMessage {
  return {
    v: 1,
    event_id: id,
    host: context.host,
    runtime: "kubernetes",
    kind,
    action,
    actor,
    ts: ts ?? context.now(),
    ts_nano: null,
    image: extra.image ?? null,
    exit_code: extra.exit_code ?? null,
    oom_killed: extra.oom_killed ?? null,
    signal: null,
    health_status: null,
    synthesized: context.synthesized,
    attributes: extra.attributes,
  };
}

function withoutNulls(values: Record<string, string | number | null>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) if (value !== null) result[key] = String(value);
  return result;
}

/** At most this many restarts that no state showed are published (the newest): bounds the burst after a long outage. */
const MAX_UNSEEN_RESTARTS = 100;

/**
 * `restartedSince`: the restart count of the state the events are relative to, when the
 * container was known in it.
 */
function containerFacts(
  pod: PodState,
  status: ContainerStatusState,
  context: DiffContext,
  restartedSince?: number,
): Fact[] {
  const base = `kubernetes/${pod.uid}/${status.name}`;
  const actor = {
    external_id: `${pod.namespace}/${pod.name}/${status.name}`,
    name: `${pod.namespace}/${pod.name}/${status.name}`,
  };
  const labels = podContainerLabels(pod, status.name);
  const image =
    status.image ?? pod.containers.find((container) => container.name === status.name)?.image ?? null;
  const facts: Fact[] = [];
  // A run is named by its own time (the same whether it shows as `state` or `lastState`, which
  // restartCount alone cannot tell apart while a container waits to be restarted).
  const add = (
    action: string,
    key: string,
    ts: string | null,
    extra: Partial<Pick<EventMessage, "exit_code" | "oom_killed">> = {},
    attributes: Record<string, string | number | null> = {},
  ) => {
    const id = `${base}/${action}/${key}`;
    facts.push({
      id,
      event: message(context, "container", action, id, actor, ts, {
        image,
        ...extra,
        attributes: { ...labels, ...withoutNulls({ restart_count: status.restartCount, ...attributes }) },
      }),
    });
  };
  const ended = (instance: number, terminated: TerminatedState) => {
    const oomKilled = terminated.reason === "OOMKilled";
    if (terminated.startedAt !== null) add("start", terminated.startedAt, terminated.startedAt);
    const key = terminated.finishedAt ?? terminated.startedAt ?? `run-${instance}`;
    add(
      "die",
      key,
      terminated.finishedAt,
      { exit_code: terminated.exitCode, oom_killed: oomKilled },
      { reason: terminated.reason, message: terminated.message },
    );
    if (oomKilled) add("oom", key, terminated.finishedAt, {}, { reason: terminated.reason });
  };
  const { state, restartCount } = status;
  if (state.kind === "running") {
    // Kubernetes keeps times to the second: a run restarted within the second its predecessor
    // started (a process killed at once, restarted without back-off) would share that run's
    // name, and its start would pass for a repeat. Such a run is also named by its count.
    const sameSecond = state.startedAt !== null && state.startedAt === status.lastTerminated?.startedAt;
    const key = sameSecond
      ? `${state.startedAt}/run-${restartCount}`
      : (state.startedAt ?? `run-${restartCount}`);
    add("start", key, state.startedAt);
  }
  if (state.kind === "terminated") ended(restartCount, state);
  if (status.lastTerminated !== null) ended(Math.max(restartCount - 1, 0), status.lastTerminated);
  if (restartCount > 0) {
    // The count went up by more than one between two states (the watcher was down, or
    // re-listed): Kubernetes keeps only the current and the last run, so the restarts in
    // between are known only by their number, which is also their id live; no time.
    const firstUnseen = Math.max((restartedSince ?? restartCount) + 1, restartCount - MAX_UNSEEN_RESTARTS);
    for (let count = firstUnseen; count < restartCount; count++) {
      add("restart", String(count), null, {}, { restart_count: count });
    }
    const restartedAt =
      state.kind === "running" ? state.startedAt : (status.lastTerminated?.finishedAt ?? null);
    add("restart", String(restartCount), restartedAt);
  }
  return facts;
}

/** `previous`: the state the facts are compared with, whose restart counts they start from. */
function podFacts(pod: PodState, context: DiffContext, previous?: PodState): Fact[] {
  const facts: Fact[] = [];
  if (pod.nodeName !== null) {
    const id = `kubernetes/${pod.uid}/scheduled`;
    facts.push({
      id,
      event: message(context, "pod", "scheduled", id, podActor(pod), pod.scheduledAt, {
        attributes: { ...podLabels(pod), "io.kubernetes.pod.node": pod.nodeName },
      }),
    });
  }
  for (const status of pod.statuses) {
    const known = previous?.statuses.find((candidate) => candidate.name === status.name);
    facts.push(...containerFacts(pod, status, context, known?.restartCount));
  }
  return facts;
}

function podActor(pod: PodState): EventMessage["actor"] {
  return { external_id: `${pod.namespace}/${pod.name}`, name: `${pod.namespace}/${pod.name}` };
}

function newFacts(before: readonly Fact[], after: readonly Fact[]): EventMessage[] {
  const known = new Set(before.map((fact) => fact.id));
  return after.filter((fact) => !known.has(fact.id)).map((fact) => fact.event);
}

/**
 * The events between two states of a pod: `before` undefined for a pod not seen before,
 * `after` undefined for a pod that is gone (its last known state is `before`).
 */
export function diffPod(
  before: PodState | undefined,
  after: PodState | undefined,
  context: DiffContext,
): EventMessage[] {
  if (after === undefined) {
    if (before === undefined) return [];
    const id = `kubernetes/${before.uid}/delete`;
    return [message(context, "pod", "delete", id, podActor(before), null, { attributes: podLabels(before) })];
  }
  const events = newFacts(
    before === undefined ? [] : podFacts(before, context),
    podFacts(after, context, before),
  );
  // Readiness flips back and forth within one instance; its fact is the object version it changed in.
  for (const status of after.statuses) {
    const previous = before?.statuses.find((candidate) => candidate.name === status.name);
    const wasReady = previous?.ready ?? false;
    if (status.ready === wasReady) continue;
    const action = status.ready ? "ready" : "unready";
    const id = `kubernetes/${after.uid}/${status.name}/${action}/${after.resourceVersion}`;
    events.push(
      message(
        context,
        "container",
        action,
        id,
        {
          external_id: `${after.namespace}/${after.name}/${status.name}`,
          name: `${after.namespace}/${after.name}/${status.name}`,
        },
        after.readyChangedAt,
        { image: status.image, attributes: podContainerLabels(after, status.name) },
      ),
    );
  }
  return events;
}

function nodeActor(node: NodeState): EventMessage["actor"] {
  return { external_id: node.name, name: node.name };
}

function nodeFacts(node: NodeState, context: DiffContext): Fact[] {
  const attributes = { "io.kubernetes.node.uid": node.uid };
  const add = `kubernetes/${node.uid}/add`;
  const facts: Fact[] = [
    { id: add, event: message(context, "node", "add", add, nodeActor(node), null, { attributes }) },
  ];
  if (node.ready !== null) {
    const action = node.ready ? "ready" : "not_ready";
    const id = `kubernetes/${node.uid}/${action}/${node.readyChangedAt ?? node.resourceVersion}`;
    facts.push({
      id,
      event: message(context, "node", action, id, nodeActor(node), node.readyChangedAt, { attributes }),
    });
  }
  return facts;
}

export function diffNode(
  before: NodeState | undefined,
  after: NodeState | undefined,
  context: DiffContext,
): EventMessage[] {
  if (after === undefined) {
    if (before === undefined) return [];
    const id = `kubernetes/${before.uid}/remove`;
    return [
      message(context, "node", "remove", id, nodeActor(before), null, {
        attributes: { "io.kubernetes.node.uid": before.uid },
      }),
    ];
  }
  return newFacts(before === undefined ? [] : nodeFacts(before, context), nodeFacts(after, context));
}

export function diffService(
  before: ServiceState | undefined,
  after: ServiceState | undefined,
  context: DiffContext,
): EventMessage[] {
  const service = after ?? before;
  if (service === undefined || (before !== undefined && after !== undefined)) return [];
  const action = after === undefined ? "remove" : "add";
  const id = `kubernetes/${service.uid}/${action}`;
  const actor = {
    external_id: `${service.namespace}/${service.name}`,
    name: `${service.namespace}/${service.name}`,
  };
  const attributes = withoutNulls({
    "io.kubernetes.service.namespace": service.namespace,
    "io.kubernetes.service.name": service.name,
    "io.kubernetes.service.uid": service.uid,
    "io.kubernetes.service.type": service.type,
  });
  return [message(context, "service", action, id, actor, null, { attributes })];
}
