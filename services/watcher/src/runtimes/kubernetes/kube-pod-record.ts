// A pod as the Kubernetes watcher records it on the bus to resume from after a restart (the
// `state` of its entries in the watcher-state bucket, see recovery/published-state-store.ts),
// and back. The state is written as the Kubernetes object it was pruned from, cut down to the
// pruned fields, and read back through the same pruning: a recorded pod is therefore read
// exactly like a listed one, and a value that is not a pod (another version wrote it, someone
// edited the bucket) is refused by the validation the watcher already applies to the API's answers.
import type { StateCodec } from "../../recovery/published-state-store.ts";
import {
  type ContainerStatusState,
  type InstanceState,
  type PodState,
  prunePod,
  type TerminatedState,
} from "./kube-objects.ts";

/** The bucket key of a pod: its uid, prefixed so that other kinds can be recorded beside pods later. */
export function podRecordKey(uid: string): string {
  return `pod_${uid}`;
}

function terminatedJson(terminated: TerminatedState): Record<string, unknown> {
  return {
    exitCode: terminated.exitCode ?? undefined,
    reason: terminated.reason ?? undefined,
    message: terminated.message ?? undefined,
    startedAt: terminated.startedAt ?? undefined,
    finishedAt: terminated.finishedAt ?? undefined,
  };
}

function stateJson(state: InstanceState): Record<string, unknown> {
  switch (state.kind) {
    case "running":
      return { running: { startedAt: state.startedAt ?? undefined } };
    case "waiting":
      return { waiting: { reason: state.reason ?? undefined } };
    case "terminated":
      return { terminated: terminatedJson(state) };
    case "unknown":
      return {};
  }
}

function statusJson(status: ContainerStatusState): Record<string, unknown> {
  return {
    name: status.name,
    image: status.image ?? undefined,
    imageID: status.imageId ?? undefined,
    ready: status.ready,
    restartCount: status.restartCount,
    state: stateJson(status.state),
    lastState: status.lastTerminated === null ? {} : { terminated: terminatedJson(status.lastTerminated) },
  };
}

export const podRecordCodec: StateCodec<PodState> = {
  toJson(pod) {
    const owner =
      pod.ownerKind === null && pod.ownerName === null
        ? undefined
        : [{ controller: true, kind: pod.ownerKind ?? undefined, name: pod.ownerName ?? undefined }];
    const conditions = [
      ...(pod.scheduledAt === null
        ? []
        : [{ type: "PodScheduled", status: "True", lastTransitionTime: pod.scheduledAt }]),
      ...(pod.readyChangedAt === null ? [] : [{ type: "Ready", lastTransitionTime: pod.readyChangedAt }]),
    ];
    // JSON.stringify leaves out the undefined fields, which prunePod reads as unknown (null).
    return {
      metadata: {
        uid: pod.uid,
        namespace: pod.namespace,
        name: pod.name,
        resourceVersion: pod.resourceVersion,
        labels: pod.labels,
        ownerReferences: owner,
        creationTimestamp: pod.createdAt ?? undefined,
      },
      spec: {
        nodeName: pod.nodeName ?? undefined,
        containers: pod.containers.map((container) => ({
          name: container.name,
          image: container.image,
          resources: {
            limits: {
              memory: container.memLimitBytes === null ? undefined : String(container.memLimitBytes),
              cpu: container.cpuLimitCores === null ? undefined : String(container.cpuLimitCores),
            },
          },
          readinessProbe: container.hasProbes ? {} : undefined,
        })),
      },
      status: { conditions, containerStatuses: pod.statuses.map(statusJson) },
    };
  },
  fromJson: prunePod,
};
