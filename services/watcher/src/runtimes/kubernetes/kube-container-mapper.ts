// One pod's containers as the contract's containerInfo, the shape inventories and inspect
// replies carry for Docker too. Kubernetes has no container health check of its own; the
// probes are mapped: ready → healthy, running but not ready → unhealthy, not running yet →
// starting, and a container without readiness or liveness probe has health `none`.
import type { ContainerInfo, ContainerState, HealthStatus } from "@crowsnest/shared/agent";
import { podContainerLabels } from "./kube-labels.ts";
import type { ContainerSpecState, ContainerStatusState, InstanceState, PodState } from "./kube-objects.ts";

const STATES: Record<InstanceState["kind"], ContainerState> = {
  waiting: "created",
  running: "running",
  terminated: "exited",
  unknown: "unknown",
};

function healthOf(spec: ContainerSpecState, status: ContainerStatusState | undefined): HealthStatus {
  if (!spec.hasProbes) return "none";
  if (status?.ready === true) return "healthy";
  return status?.state.kind === "running" || status?.state.kind === "terminated" ? "unhealthy" : "starting";
}

export function podToContainerInfos(pod: PodState): ContainerInfo[] {
  return pod.containers.map((spec) => {
    const status = pod.statuses.find((candidate) => candidate.name === spec.name);
    const state = status?.state ?? { kind: "waiting" as const, reason: null };
    const finished = state.kind === "terminated" ? state : status?.lastTerminated;
    return {
      external_id: `${pod.namespace}/${pod.name}/${spec.name}`,
      name: `${pod.namespace}/${pod.name}/${spec.name}`,
      image: status?.image ?? spec.image,
      image_id: status?.imageId ?? null,
      state: STATES[state.kind],
      labels: podContainerLabels(pod, spec.name),
      created_at: pod.createdAt,
      started_at: state.kind === "running" || state.kind === "terminated" ? state.startedAt : null,
      finished_at: finished?.finishedAt ?? null,
      restart_count: status?.restartCount ?? null,
      exit_code: finished?.exitCode ?? null,
      pid: null,
      health: { status: healthOf(spec, status), failing_streak: null, last_output: null },
      limits: { mem_limit: spec.memLimitBytes, cpu_limit_cores: spec.cpuLimitCores, pids_limit: null },
      compose: null,
      kubernetes: {
        namespace: pod.namespace,
        pod: pod.name,
        pod_uid: pod.uid,
        container: spec.name,
        node: pod.nodeName,
        owner_kind: pod.ownerKind,
        owner_name: pod.ownerName,
        ready: status?.ready ?? null,
      },
    };
  });
}
