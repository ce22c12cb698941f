// The watcher as it ships (its src/main.ts in a child process) with CROWSNEST_RUNTIME=kubernetes:
// it reaches the tests' API server through a kubeconfig, publishes its host's inventory and a
// heartbeat that says `kubernetes`, and refuses to start without a host name it can stand by.
import { codecs, createSubjects, type HeartbeatMessage, type InventoryMessage } from "@crowsnest/shared";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectKubernetesCluster,
  type FakeNode,
  type KubernetesCluster,
  type TestNamespace,
  testKubeconfigPath,
  uniqueKubernetesName,
} from "../../../../../test/support/kubernetes-cluster.ts";
import { startService } from "../../../../../test/support/service-process.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
} from "../../../../../test/support/test-env.ts";

const kubeconfig = testKubeconfigPath();

describe.skipIf(kubeconfig === "")("the watcher's main.ts in Kubernetes mode", () => {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  let cluster: KubernetesCluster;
  let namespace: TestNamespace;
  let node: FakeNode;
  let nc: NatsConnection;

  beforeAll(async () => {
    cluster = connectKubernetesCluster(kubeconfig);
    namespace = await cluster.createNamespace("crowsnest-watcher-main");
    node = await cluster.registerFakeNode({ name: uniqueKubernetesName("watcher-main"), kubeletPort: 10250 });
    await cluster.create(`/api/v1/namespaces/${namespace.name}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "solo" },
      spec: { nodeName: node.name, containers: [{ name: "app", image: "registry.invalid/app:1" }] },
    });
    nc = await connectTestNats();
  });

  afterAll(async () => {
    await node?.remove();
    await namespace?.delete();
    await nc?.close();
  });

  it("watches its node's pods and says `kubernetes` in its heartbeat", async () => {
    const heartbeats: HeartbeatMessage[] = [];
    const inventories: InventoryMessage[] = [];
    const heartbeatSubscription = nc.subscribe(subjects.agent(node.name, "watcher"));
    const inventorySubscription = nc.subscribe(subjects.inventory(node.name, "kubernetes"));
    void (async () => {
      for await (const message of heartbeatSubscription) {
        const decoded = codecs.heartbeat.decode(message.data);
        if (decoded.ok) heartbeats.push(decoded.value);
      }
    })();
    void (async () => {
      for await (const message of inventorySubscription) {
        const decoded = codecs.inventory.decode(message.data);
        if (decoded.ok) inventories.push(decoded.value);
      }
    })();
    await nc.flush();
    const watcher = startService("watcher", {
      CROWSNEST_RUNTIME: "kubernetes",
      CROWSNEST_KUBECONFIG: kubeconfig,
      CROWSNEST_KUBERNETES_NODE_NAME: node.name,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HEARTBEAT_INTERVAL_MS: "1000",
    });
    try {
      const inventory = await eventually(() => inventories.find((message) => message.reason === "startup"), {
        timeoutMs: 20_000,
        what: "the startup inventory",
      });
      expect(inventory).toMatchObject({ host: node.name, runtime: "kubernetes" });
      expect(inventory.containers.map((container) => container.external_id)).toEqual([
        `${namespace.name}/solo/app`,
      ]);
      const heartbeat = await eventually(() => heartbeats.find((message) => message.connected), {
        timeoutMs: 10_000,
        what: "a connected heartbeat",
      });
      expect(heartbeat).toMatchObject({ runtime: "kubernetes", host: node.name });
      expect(watcher.otherOutput).toEqual([]);
    } finally {
      heartbeatSubscription.unsubscribe();
      inventorySubscription.unsubscribe();
      expect(await watcher.stop()).toBe(0);
    }
  });

  it("exits with a clear error in a pod whose service account is not mounted", async () => {
    const watcher = startService("watcher", {
      CROWSNEST_RUNTIME: "kubernetes",
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: "6443",
      CROWSNEST_NATS_URL: natsUrl(),
    });
    // No service account is mounted here, so the first thing it cannot do is read it.
    expect(await watcher.exited).toBe(1);
    expect(watcher.logs).toMatchObject([
      { level: "fatal", msg: expect.stringContaining("cannot read the service account's CA") },
    ]);
  });
});
