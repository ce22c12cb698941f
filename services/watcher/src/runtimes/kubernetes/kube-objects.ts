// The pruned state the watcher keeps per Kubernetes object: only the fields events and the
// inventory are derived from, so 2000 pods cost a few megabytes instead of the hundreds a
// cache of whole objects would. Pruning is also validation: an object without the fields that
// identify it is refused (undefined), and a malformed optional field just becomes unknown.
import { parseQuantity } from "@crowsnest/shared/kubernetes";
import { field, isJsonObject, type JsonObject } from "@crowsnest/shared/util/json-fields";

export interface TerminatedState {
  readonly exitCode: number | null;
  readonly reason: string | null;
  readonly message: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export type InstanceState =
  | { readonly kind: "waiting"; readonly reason: string | null }
  | { readonly kind: "running"; readonly startedAt: string | null }
  | ({ readonly kind: "terminated" } & TerminatedState)
  | { readonly kind: "unknown" };

export interface ContainerStatusState {
  readonly name: string;
  readonly image: string | null;
  readonly imageId: string | null;
  readonly ready: boolean;
  readonly restartCount: number;
  readonly state: InstanceState;
  readonly lastTerminated: TerminatedState | null;
}

export interface ContainerSpecState {
  readonly name: string;
  readonly image: string;
  readonly memLimitBytes: number | null;
  readonly cpuLimitCores: number | null;
  readonly hasProbes: boolean;
}

export interface PodState {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ownerKind: string | null;
  readonly ownerName: string | null;
  readonly nodeName: string | null;
  readonly createdAt: string | null;
  /** lastTransitionTime of the PodScheduled condition, when it is True. */
  readonly scheduledAt: string | null;
  /** lastTransitionTime of the Ready condition. */
  readonly readyChangedAt: string | null;
  readonly containers: readonly ContainerSpecState[];
  readonly statuses: readonly ContainerStatusState[];
}

export interface NodeState {
  readonly uid: string;
  readonly name: string;
  readonly resourceVersion: string;
  /** The Ready condition: null when the node has none (yet). */
  readonly ready: boolean | null;
  readonly readyChangedAt: string | null;
}

export interface ServiceState {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion: string;
  readonly type: string | null;
}

interface Identity {
  uid: string;
  name: string;
  namespace: string | null;
  resourceVersion: string;
  metadata: JsonObject;
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** A Kubernetes time (RFC 3339, seconds or finer) as the bus's millisecond timestamp, or null. */
export function kubeTime(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const ms = Date.parse(value);
  // Kubernetes writes the zero time as "0001-01-01T00:00:00Z" in some places: no time.
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null;
}

function identity(object: unknown): Identity | undefined {
  const metadata = field(object, "metadata");
  if (!isJsonObject(metadata)) return undefined;
  const uid = text(metadata.uid);
  const name = text(metadata.name);
  const resourceVersion = text(metadata.resourceVersion);
  if (uid === null || name === null || resourceVersion === null) return undefined;
  return { uid, name, resourceVersion, namespace: text(metadata.namespace), metadata };
}

function stringMap(value: unknown): Record<string, string> {
  const result: Record<string, string> = {};
  if (!isJsonObject(value)) return result;
  for (const [key, entry] of Object.entries(value)) if (typeof entry === "string") result[key] = entry;
  return result;
}

function conditionOf(status: unknown, type: string): JsonObject | undefined {
  const conditions = field(status, "conditions");
  if (!Array.isArray(conditions)) return undefined;
  const found: unknown = conditions.find((condition) => field(condition, "type") === type);
  return isJsonObject(found) ? found : undefined;
}

function terminated(value: unknown): TerminatedState | null {
  if (!isJsonObject(value)) return null;
  const exitCode = value.exitCode;
  return {
    exitCode: typeof exitCode === "number" && Number.isSafeInteger(exitCode) ? exitCode : null,
    reason: text(value.reason),
    message: text(value.message),
    startedAt: kubeTime(value.startedAt),
    finishedAt: kubeTime(value.finishedAt),
  };
}

function instanceState(value: unknown): InstanceState {
  const running = field(value, "running");
  if (isJsonObject(running)) return { kind: "running", startedAt: kubeTime(running.startedAt) };
  const ended = terminated(field(value, "terminated"));
  if (ended !== null) return { kind: "terminated", ...ended };
  const waiting = field(value, "waiting");
  if (isJsonObject(waiting)) return { kind: "waiting", reason: text(waiting.reason) };
  return { kind: "unknown" };
}

function containerStatus(value: unknown): ContainerStatusState | undefined {
  const name = text(field(value, "name"));
  if (name === null) return undefined;
  const restartCount = field(value, "restartCount");
  return {
    name,
    image: text(field(value, "image")),
    imageId: text(field(value, "imageID")),
    ready: field(value, "ready") === true,
    restartCount:
      typeof restartCount === "number" && Number.isSafeInteger(restartCount) && restartCount >= 0
        ? restartCount
        : 0,
    state: instanceState(field(value, "state")),
    lastTerminated: terminated(field(field(value, "lastState"), "terminated")),
  };
}

function containerSpec(value: unknown): ContainerSpecState | undefined {
  const name = text(field(value, "name"));
  if (name === null) return undefined;
  const limits = field(field(value, "resources"), "limits");
  const memory = parseQuantity(field(limits, "memory"));
  const cpu = parseQuantity(field(limits, "cpu"));
  return {
    name,
    image: text(field(value, "image")) ?? "",
    memLimitBytes: memory !== null && memory >= 0 ? Math.ceil(memory) : null,
    cpuLimitCores: cpu !== null && cpu > 0 ? cpu : null,
    hasProbes: isJsonObject(field(value, "readinessProbe")) || isJsonObject(field(value, "livenessProbe")),
  };
}

function list<T>(value: unknown, parse: (item: unknown) => T | undefined): T[] {
  if (!Array.isArray(value)) return [];
  const result: T[] = [];
  for (const item of value) {
    const parsed = parse(item);
    if (parsed !== undefined) result.push(parsed);
  }
  return result;
}

export function prunePod(object: unknown): PodState | undefined {
  const id = identity(object);
  if (id === undefined || id.namespace === null) return undefined;
  const spec = field(object, "spec");
  const status = field(object, "status");
  const owners = id.metadata.ownerReferences;
  const owner: unknown = Array.isArray(owners)
    ? (owners.find((reference) => field(reference, "controller") === true) ?? owners[0])
    : undefined;
  const scheduled = conditionOf(status, "PodScheduled");
  return {
    uid: id.uid,
    namespace: id.namespace,
    name: id.name,
    resourceVersion: id.resourceVersion,
    labels: stringMap(id.metadata.labels),
    ownerKind: text(field(owner, "kind")),
    ownerName: text(field(owner, "name")),
    nodeName: text(field(spec, "nodeName")),
    createdAt: kubeTime(id.metadata.creationTimestamp),
    scheduledAt: scheduled?.status === "True" ? kubeTime(scheduled.lastTransitionTime) : null,
    readyChangedAt: kubeTime(conditionOf(status, "Ready")?.lastTransitionTime),
    containers: list(field(spec, "containers"), containerSpec),
    statuses: list(field(status, "containerStatuses"), containerStatus),
  };
}

export function pruneNode(object: unknown): NodeState | undefined {
  const id = identity(object);
  if (id === undefined) return undefined;
  const ready = conditionOf(field(object, "status"), "Ready");
  return {
    uid: id.uid,
    name: id.name,
    resourceVersion: id.resourceVersion,
    ready: ready === undefined ? null : ready.status === "True",
    readyChangedAt: kubeTime(ready?.lastTransitionTime),
  };
}

export function pruneService(object: unknown): ServiceState | undefined {
  const id = identity(object);
  if (id === undefined || id.namespace === null) return undefined;
  return {
    uid: id.uid,
    namespace: id.namespace,
    name: id.name,
    resourceVersion: id.resourceVersion,
    type: text(field(field(object, "spec"), "type")),
  };
}
