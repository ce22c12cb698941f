// How a CRI container appears on the bus: as the Kubernetes runtime shows a pod's container
// (`namespace/pod/container`, whichever run of it), with the labels the kubelet puts on
// containers (io.kubernetes.pod.namespace, .pod.name, .pod.uid, .container.name) so the api's
// namespace filter works, and a `kubernetes` object in inventories and inspect replies.
import type { ContainerInfo, ContainerState } from "@crowsnest/shared/agent";
import { nanosToTimestamp } from "../../time/nano-time.ts";
import type { CriContainerRecord, CriSandboxRecord } from "./cri-status-cache.ts";

export function containerBusId(
  record: Pick<CriContainerRecord, "podNamespace" | "podName" | "name">,
): string {
  return `${record.podNamespace}/${record.podName}/${record.name}`;
}

export function sandboxLabels(sandbox: CriSandboxRecord): Record<string, string> {
  return {
    ...sandbox.labels,
    "io.kubernetes.pod.namespace": sandbox.namespace,
    "io.kubernetes.pod.name": sandbox.name,
    "io.kubernetes.pod.uid": sandbox.uid,
  };
}

export function criContainerLabels(record: CriContainerRecord): Record<string, string> {
  return {
    ...record.labels,
    "io.kubernetes.pod.namespace": record.podNamespace,
    "io.kubernetes.pod.name": record.podName,
    "io.kubernetes.pod.uid": record.podUid,
    "io.kubernetes.container.name": record.name,
  };
}

const STATES: Readonly<Record<CriContainerRecord["state"], ContainerState>> = {
  created: "created",
  running: "running",
  exited: "exited",
  unknown: "unknown",
};

const timestamp = (nano: bigint | undefined): string | null =>
  nano === undefined || nano <= 0n ? null : nanosToTimestamp(nano);

/**
 * Every pod container once, as its newest run shows it (the kubelet keeps the previous run's
 * container for `kubectl logs --previous`): its state, and a restart count of its attempt.
 */
export function newestRuns(records: Iterable<CriContainerRecord>): CriContainerRecord[] {
  const newest = new Map<string, CriContainerRecord>();
  for (const record of records) {
    const id = containerBusId(record);
    const known = newest.get(id);
    if (
      known === undefined ||
      record.attempt > known.attempt ||
      (record.attempt === known.attempt && record.createdAtNano > known.createdAtNano)
    ) {
      newest.set(id, record);
    }
  }
  return [...newest.values()];
}

/** The inventory's and inspect's form of a pod container's newest run; `node`: the host it runs on. */
export function toContainerInfo(record: CriContainerRecord, node: string): ContainerInfo {
  const id = containerBusId(record);
  return {
    external_id: id,
    name: id,
    image: record.image,
    image_id: record.imageRef === "" ? null : record.imageRef,
    state: STATES[record.state],
    labels: criContainerLabels(record),
    created_at: timestamp(record.createdAtNano),
    started_at: timestamp(record.startedAtNano),
    finished_at: timestamp(record.finishedAtNano),
    restart_count: record.attempt,
    exit_code: record.exitCode,
    pid: record.pid,
    // The CRI knows nothing of probes (the kubelet runs them).
    health: null,
    limits: { mem_limit: record.memLimitBytes, cpu_limit_cores: record.cpuLimitCores, pids_limit: null },
    compose: null,
    kubernetes: {
      namespace: record.podNamespace,
      pod: record.podName,
      pod_uid: record.podUid,
      container: record.name,
      node,
      owner_kind: null,
      owner_name: null,
      ready: null,
    },
  };
}
