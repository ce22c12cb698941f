// Maps what containerd says about a container (its record and its task) to the bus's
// containerInfo and to the tracker's snapshot, the way a Docker host's containers look: the id,
// name and limits the collector gives it too (@crowsnest/shared/containerd's identity), compose
// projects from the labels nerdctl compose writes, the task's state. Pure, so unit-tested.
import type { ContainerInfo, ContainerState } from "@crowsnest/shared/agent";
import {
  type ContainerdContainer,
  type ContainerdTask,
  type ContainerdTimestamp,
  containerdContainerName,
  containerdExternalId,
  type OciSpec,
  ociLimits,
} from "@crowsnest/shared/containerd";
import type { ObservedContainer } from "../../following/runtime-event-source.ts";
import { composeInfo } from "../../inventory/compose-info.ts";
import type { ContainerSnapshot } from "../../resync/container-state-tracker.ts";
import { nanosToTimestamp } from "../../time/nano-time.ts";

export function timestampNanos(timestamp: ContainerdTimestamp | undefined): bigint | undefined {
  if (timestamp === undefined) return undefined;
  return BigInt(timestamp.seconds) * 1_000_000_000n + BigInt(timestamp.nanos);
}

/** The contract's limits from the container's OCI spec (the collector reads the same). */
export function specLimits(spec: OciSpec | undefined): ContainerInfo["limits"] {
  const limits = ociLimits(spec);
  return {
    mem_limit: limits.memLimitBytes,
    cpu_limit_cores: limits.cpuLimitCores,
    pids_limit: limits.pidsLimit,
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
  const id = containerdExternalId(namespace, container.id);
  const labels = { ...container.labels };
  const name = containerdContainerName(container);
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
