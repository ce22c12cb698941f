// Maps what containerd says about a container (its record and its task) to the bus's
// containerInfo and to the tracker's snapshot, the way a Docker host's containers look: the same
// names (nerdctl's `nerdctl/name` label, else the id), compose projects from the labels nerdctl
// compose writes, limits from the OCI spec. Ids are `namespace/id` outside the `default`
// namespace, so two namespaces' containers of the same id stay apart. Pure, so unit-tested.
import type { ContainerInfo, ContainerState } from "@crowsnest/shared";
import type {
  ContainerdContainer,
  ContainerdTask,
  ContainerdTimestamp,
  OciSpec,
} from "@crowsnest/shared/containerd";
import type { ObservedContainer } from "../../following/runtime-event-source.ts";
import { composeInfo } from "../../inventory/compose-info.ts";
import type { ContainerSnapshot } from "../../resync/container-state-tracker.ts";
import { nanosToTimestamp } from "../../time/nano-time.ts";

/** The namespace whose container ids are published as they are (nerdctl's and ctr's default). */
export const DEFAULT_NAMESPACE = "default";

/** The label nerdctl keeps a container's name in. */
export const NERDCTL_NAME_LABEL = "nerdctl/name";

/** The CFS period the kernel uses when a spec sets a quota without one: 100 ms, in µs. */
const DEFAULT_CPU_PERIOD_US = 100_000;

/** Limits at or above this are "unlimited" written as a number (the cgroup's 2^63 - 4096, say). */
const UNLIMITED_BYTES = 2 ** 62;

/** The container's id on the bus: its own id in the default namespace, else `namespace/id`. */
export function externalId(namespace: string, id: string): string {
  return namespace === DEFAULT_NAMESPACE ? id : `${namespace}/${id}`;
}

/** The container's name: nerdctl's name label, else its id (what `ctr` users know it by). */
export function containerName(id: string, labels: Readonly<Record<string, string>>): string {
  const name = labels[NERDCTL_NAME_LABEL];
  return name !== undefined && name !== "" ? name : id;
}

export function timestampNanos(timestamp: ContainerdTimestamp | undefined): bigint | undefined {
  if (timestamp === undefined) return undefined;
  return BigInt(timestamp.seconds) * 1_000_000_000n + BigInt(timestamp.nanos);
}

function positive(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : null;
}

export function specLimits(spec: OciSpec | undefined): ContainerInfo["limits"] {
  const resources = spec?.linux?.resources;
  const memory = positive(resources?.memory?.limit);
  const quota = positive(resources?.cpu?.quota);
  const period = positive(resources?.cpu?.period) ?? DEFAULT_CPU_PERIOD_US;
  const pids = positive(resources?.pids?.limit);
  return {
    mem_limit: memory !== null && memory < UNLIMITED_BYTES ? Math.trunc(memory) : null,
    cpu_limit_cores: quota === null ? null : quota / period,
    pids_limit: pids !== null && Number.isSafeInteger(pids) ? pids : null,
  };
}

/**
 * The container's state as Docker would name it. Without a task it has either never run or its
 * task was deleted after it exited (nerdctl stop does that): the inventory calls it `created`,
 * as `nerdctl ps` does, but the tracker must treat it as down so that a run it knew of ends.
 */
function taskState(task: ContainerdTask | undefined): ContainerState {
  switch (task?.status) {
    case "RUNNING":
      return "running";
    case "PAUSED":
    case "PAUSING":
      return "paused";
    case "STOPPED":
      return "exited";
    default:
      return "created";
  }
}

export interface ContainerdContainerFacts {
  readonly namespace: string;
  readonly container: ContainerdContainer;
  /** Undefined when the container has no task. */
  readonly task: ContainerdTask | undefined;
  /** When the task's process started, where the watcher could read it; undefined otherwise. */
  readonly startedNano: bigint | undefined;
}

export function toObservedContainer(facts: ContainerdContainerFacts): ObservedContainer {
  const { namespace, container, task, startedNano } = facts;
  const id = externalId(namespace, container.id);
  const labels = { ...container.labels };
  const name = containerName(container.id, labels);
  const state = taskState(task);
  const createdNano = timestampNanos(container.createdAt);
  const finishedNano = state === "exited" ? timestampNanos(task?.exitedAt) : undefined;
  const exitCode = state === "exited" && task !== undefined ? task.exitStatus : null;
  const info: ContainerInfo = {
    external_id: id,
    name,
    image: container.image,
    image_id: null,
    state,
    labels,
    created_at: createdNano === undefined ? null : nanosToTimestamp(createdNano),
    started_at: startedNano === undefined ? null : nanosToTimestamp(startedNano),
    finished_at: finishedNano === undefined ? null : nanosToTimestamp(finishedNano),
    // containerd restarts nothing by itself (nerdctl's restart policy makes a new task).
    restart_count: null,
    exit_code: exitCode,
    pid: task !== undefined && task.pid > 0 && (state === "running" || state === "paused") ? task.pid : null,
    health: null,
    limits: specLimits(container.spec),
    compose: composeInfo(labels),
    kubernetes: null,
  };
  const snapshot: ContainerSnapshot = {
    id,
    name,
    image: container.image,
    labels,
    state: task === undefined ? "exited" : state,
    detailed: true,
    createdNano,
    startedNano,
    finishedNano,
    exitCode,
    // containerd's task says nothing about OOM; the live `oom` event does.
    oomKilled: null,
    health: null,
  };
  return { info, snapshot };
}
