// The test Kubernetes cluster does what the Kubernetes tests rely on: pods get scheduled to a
// fake node, and the API server's node proxy and pods/log reach that node's kubelet stand-in.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type KubeletStandIn, startKubeletStandIn } from "../support/kubelet-stand-in.ts";
import {
  connectKubernetesCluster,
  type FakeNode,
  type KubernetesCluster,
  type KubernetesObject,
  type TestNamespace,
  uniqueKubernetesName,
} from "../support/kubernetes-cluster.ts";

async function eventually<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!inject("kubeconfig"))("the test Kubernetes cluster", () => {
  let cluster: KubernetesCluster;
  let namespace: TestNamespace;
  let standIn: KubeletStandIn;
  let node: FakeNode;
  const podName = "stand-in-target";

  beforeAll(async () => {
    cluster = connectKubernetesCluster();
    namespace = await cluster.createNamespace();
    standIn = await startKubeletStandIn();
    node = await cluster.registerFakeNode({
      name: uniqueKubernetesName("crowsnest-node"),
      kubeletPort: standIn.port,
    });
    await cluster.create(`/api/v1/namespaces/${namespace.name}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: podName, labels: { app: "stand-in-target" } },
      spec: {
        // Other tests' fake nodes are schedulable too.
        nodeSelector: { "kubernetes.io/hostname": node.name },
        containers: [
          { name: "main", image: "busybox:1.36" },
          { name: "sidecar", image: "busybox:1.36" },
        ],
      },
    });
  });

  afterAll(async () => {
    await node?.remove();
    await namespace?.delete();
    await standIn?.stop();
  });

  it("schedules a pod to a fake node", async () => {
    const pod = await eventually(
      () =>
        cluster.get<KubernetesObject & { spec: { nodeName?: string } }>(
          `/api/v1/namespaces/${namespace.name}/pods/${podName}`,
        ),
      (candidate) => candidate.spec.nodeName !== undefined,
      30_000,
    );
    expect(pod.spec.nodeName).toBe(node.name);
  });

  it("serves the stand-in's stats summary through the API server's node proxy", async () => {
    const summary = { node: { nodeName: node.name, cpu: { usageNanoCores: 123_456 } }, pods: [] };
    standIn.setSummary(summary);

    const response = await cluster.request("GET", `/api/v1/nodes/${node.name}/proxy/stats/summary`);

    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toEqual(summary);
    expect(standIn.requests.at(-1)?.path).toBe("/stats/summary");
  });

  it("serves the stand-in's container log through pods/log, honouring tailLines", async () => {
    standIn.setLogLines({ namespace: namespace.name, pod: podName, container: "main" }, [
      "one",
      "two",
      "three",
    ]);
    // pods/log needs the pod bound to a node; the first test may not have waited for it.
    await eventually(
      () =>
        cluster.get<{ spec: { nodeName?: string } }>(`/api/v1/namespaces/${namespace.name}/pods/${podName}`),
      (pod) => pod.spec.nodeName !== undefined,
      30_000,
    );

    const response = await cluster.request(
      "GET",
      `/api/v1/namespaces/${namespace.name}/pods/${podName}/log?container=main&tailLines=2&timestamps=true`,
    );

    expect(response.status).toBe(200);
    expect(response.text).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z two\n\S+ three\n$/);
    const request = standIn.requests.at(-1);
    expect(request?.path).toBe(`/containerLogs/${namespace.name}/${podName}/main`);
    expect(request?.query.get("tailLines")).toBe("2");
  });

  it("streams appended lines to a follow=true pods/log request", async () => {
    const target = { namespace: namespace.name, pod: podName, container: "main" };
    standIn.setLogLines(target, ["before"]);
    const response = await cluster.stream(
      `/api/v1/namespaces/${namespace.name}/pods/${podName}/log?container=main&follow=true`,
    );
    try {
      expect(response.statusCode).toBe(200);
      response.setEncoding("utf8");
      let received = "";
      let onReceived = () => {};
      response.on("data", (chunk: string) => {
        received += chunk;
        onReceived();
      });
      const receivedUntil = (expected: string) =>
        new Promise<void>((resolve, reject) => {
          onReceived = () => {
            if (received === expected) resolve();
            else if (!expected.startsWith(received))
              reject(new Error(`received ${JSON.stringify(received)}`));
          };
          onReceived();
        });
      await receivedUntil("before\n");
      standIn.appendLogLines(target, ["after"]);
      await receivedUntil("before\nafter\n");
    } finally {
      response.destroy();
    }
  });

  it("serves the previous instance's log and honours sinceTime", async () => {
    const target = { namespace: namespace.name, pod: podName, container: "main" };
    standIn.setLogLines({ ...target, previous: true }, [
      { text: "old crash", time: new Date("2026-01-01T00:00:00Z") },
      { text: "last words", time: new Date("2026-01-01T00:00:05Z") },
    ]);
    const logPath = `/api/v1/namespaces/${namespace.name}/pods/${podName}/log`;

    const previous = await cluster.request("GET", `${logPath}?container=main&previous=true`);
    const since = await cluster.request(
      "GET",
      `${logPath}?container=main&previous=true&sinceTime=2026-01-01T00:00:01Z`,
    );

    expect(previous.text).toBe("old crash\nlast words\n");
    expect(since.text).toBe("last words\n");
  });

  it("passes on the kubelet's error for a previous instance that never existed", async () => {
    standIn.setPod({ namespace: namespace.name, pod: podName, containers: ["main", "sidecar"] });
    const response = await cluster.request(
      "GET",
      `/api/v1/namespaces/${namespace.name}/pods/${podName}/log?container=sidecar&previous=true`,
    );

    expect(response.status).toBe(400);
    expect(response.text).toContain("previous terminated container");
    expect(standIn.requests.at(-1)?.query.get("previous")).toBe("true");
  });

  it("passes on the kubelet's 404 for a pod it does not run", async () => {
    // Bound to the node in the API, unknown to its kubelet (not admitted yet, or already gone).
    const unknownPod = "not-on-the-kubelet";
    await cluster.create(`/api/v1/namespaces/${namespace.name}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: unknownPod },
      spec: {
        nodeSelector: { "kubernetes.io/hostname": node.name },
        containers: [{ name: "main", image: "busybox:1.36" }],
      },
    });
    await eventually(
      () =>
        cluster.get<{ spec: { nodeName?: string } }>(
          `/api/v1/namespaces/${namespace.name}/pods/${unknownPod}`,
        ),
      (pod) => pod.spec.nodeName !== undefined,
      30_000,
    );

    const response = await cluster.request(
      "GET",
      `/api/v1/namespaces/${namespace.name}/pods/${unknownPod}/log?container=main`,
    );

    // The API server keeps the kubelet's status but not its text for a 404.
    expect(response.status).toBe(404);
    expect(JSON.parse(response.text)).toMatchObject({
      code: 404,
      reason: "NotFound",
      details: { kind: "pods/log", name: unknownPod },
    });
    expect(standIn.requests.at(-1)?.path).toBe(`/containerLogs/${namespace.name}/${unknownPod}/main`);
  });
});
