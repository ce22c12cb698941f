// The test cluster's real node: a kubelet built from the same source as the API server, on its
// own containerd (test/infra/kubernetes/start.sh). Its pods run for real: OOM kills, restarts,
// container logs and the Summary API come from the kernel, containerd and the kubelet.
//
// Where the tests run with a cluster (CROWSNEST_TEST_KUBECONFIG) or in CI, a missing kubelet is
// an error, not a skip: the cluster's start script always starts one, so its absence means the
// machine was prepared by an older script or the kubelet failed, and a silent skip would hide
// that the real-pod tests never ran. Without a cluster and outside CI they skip, like the other
// Kubernetes tests.
import { inject } from "vitest";
import type { KubernetesCluster, KubernetesObject } from "./kubernetes-cluster.ts";

/** Only pods that tolerate this taint run on the real node (start.sh registers it so). */
export const REAL_KUBELET_TAINT_KEY = "crowsnest.test/real-kubelet";

/** Whether this run must have the real kubelet: a cluster was given, or CI runs. */
export function realKubeletExpected(): boolean {
  return inject("kubeconfig") !== "" || Boolean(process.env.CI);
}

/** The real node's name; throws with what to do when there is none. */
export function requireRealKubeletNode(): string {
  const node = inject("kubeletNode");
  if (node === "" || inject("kubeconfig") === "") {
    throw new Error(
      "no real kubelet: CROWSNEST_TEST_KUBELET_NODE and CROWSNEST_TEST_KUBECONFIG must name the test " +
        'cluster\'s node and admin kubeconfig; run `eval "$(bash test/infra/kubernetes/start.sh)"` ' +
        "(after test/infra/kubernetes/build.sh), see docs/kubernetes-testing.md",
    );
  }
  return node;
}

export interface RealPodOptions {
  readonly name: string;
  readonly node: string;
  readonly containers: readonly Record<string, unknown>[];
  readonly restartPolicy?: "Always" | "OnFailure" | "Never";
  readonly labels?: Record<string, string>;
  readonly volumes?: readonly Record<string, unknown>[];
}

/**
 * A pod bound to the real node. Containers take the workload image (busybox, imported offline:
 * `imagePullPolicy: Never`, and a tag that is not `latest`, which would mean Always).
 */
export function realPod(options: RealPodOptions, image: string): KubernetesObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: options.name, labels: options.labels ?? {} },
    spec: {
      nodeName: options.node,
      tolerations: [{ key: REAL_KUBELET_TAINT_KEY, operator: "Exists", effect: "NoSchedule" }],
      restartPolicy: options.restartPolicy ?? "Always",
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      volumes: options.volumes ?? [],
      containers: options.containers.map((container) => ({
        image,
        imagePullPolicy: "Never",
        ...container,
      })),
    },
  };
}

/** A pod's status as the kubelet reports it; tests read the fields they need. */
export interface RealPodStatus {
  phase?: string;
  containerStatuses?: {
    name: string;
    restartCount: number;
    ready: boolean;
    imageID?: string;
    containerID?: string;
    state?: { running?: { startedAt: string }; waiting?: { reason?: string }; terminated?: unknown };
    lastState?: { terminated?: { exitCode: number; reason?: string } };
  }[];
}

export async function podStatus(
  cluster: KubernetesCluster,
  namespace: string,
  pod: string,
): Promise<RealPodStatus> {
  const object = await cluster.get<{ status?: RealPodStatus }>(`/api/v1/namespaces/${namespace}/pods/${pod}`);
  return object.status ?? {};
}
