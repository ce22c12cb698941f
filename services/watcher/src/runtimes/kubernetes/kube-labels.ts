// The labels a Kubernetes container carries on the bus: the pod's own labels plus the keys
// kubelet put on Docker containers, so the API's namespace filter (io.kubernetes.pod.namespace)
// and subscribers written for dockershim-era labels work unchanged.
import type { PodState } from "./kube-objects.ts";

export function podLabels(pod: PodState): Record<string, string> {
  return {
    ...pod.labels,
    "io.kubernetes.pod.namespace": pod.namespace,
    "io.kubernetes.pod.name": pod.name,
    "io.kubernetes.pod.uid": pod.uid,
  };
}

export function podContainerLabels(pod: PodState, container: string): Record<string, string> {
  return { ...podLabels(pod), "io.kubernetes.container.name": container };
}
