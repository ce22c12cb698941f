// The watcher as it ships (its src/main.ts in a child process) with CROWSNEST_RUNTIME=kubernetes,
// on the test cluster's real node (a kubelet on its own containerd, test/infra/kubernetes/start.sh):
// it reaches the tests' API server through a kubeconfig, publishes its node's real pods in its
// startup inventory, a heartbeat that says `kubernetes`, a real container's start and exit as
// they happen, and that container's log through the API server and the kubelet; and it refuses
// to start without a host name it can stand by. The node is shared with other runs: only this
// run's namespace is looked at.
import { createSubjects, type EventMessage } from "@crowsnest/shared";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deleteTestStreams,
  type HostRecording,
  recordHost,
} from "../../../../../test/support/bus-fixtures.ts";
import {
  connectKubernetesCluster,
  type KubernetesCluster,
  type TestNamespace,
  testKubeconfigPath,
} from "../../../../../test/support/kubernetes-cluster.ts";
import { logTexts, requestLogsOverBus } from "../../../../../test/support/logs-rpc.ts";
import {
  podStatus,
  type RealPodOptions,
  realKubeletExpected,
  realPod,
  requireRealKubeletNode,
} from "../../../../../test/support/real-kubelet.ts";
import { startService } from "../../../../../test/support/service-process.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
  workloadImage,
} from "../../../../../test/support/test-env.ts";

const MIB = 2 ** 20;
const kubeconfig = testKubeconfigPath();

describe.skipIf(!realKubeletExpected())("the watcher's main.ts in Kubernetes mode, on a real kubelet", () => {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  let nodeName = "";
  let cluster: KubernetesCluster;
  let namespace: TestNamespace;
  let nc: NatsConnection;
  let recording: HostRecording;

  const createPod = (pod: Omit<RealPodOptions, "node">) =>
    cluster.create(
      `/api/v1/namespaces/${namespace.name}/pods`,
      realPod({ ...pod, node: nodeName }, workloadImage()),
    );
  const eventsOf = (externalId: string, action: string): EventMessage[] =>
    recording.events.filter((event) => event.actor.external_id === externalId && event.action === action);

  beforeAll(async () => {
    nodeName = requireRealKubeletNode();
    cluster = connectKubernetesCluster(kubeconfig);
    namespace = await cluster.createNamespace("crowsnest-watcher-main");
    nc = await connectTestNats();
    // The watcher's host is the node's name: the real node's, under this run's own prefix.
    recording = recordHost(nc, subjects, nodeName, "kubernetes");
    await nc.flush();
    await createPod({
      name: "solo",
      containers: [
        {
          name: "app",
          command: ["sh", "-c", "echo hello from solo; exec sleep 3600"],
          resources: { limits: { memory: "64Mi", cpu: "250m" } },
        },
      ],
    });
  });

  afterAll(async () => {
    recording?.stop();
    await namespace?.delete();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
  });

  it("publishes its node's real pods, their start and exit, a heartbeat that says `kubernetes`, and answers for logs", {
    timeout: 180_000,
  }, async () => {
    const status = await eventually(
      async () => {
        const [container] = (await podStatus(cluster, namespace.name, "solo")).containerStatuses ?? [];
        return container?.state?.running !== undefined ? container : undefined;
      },
      { timeoutMs: 60_000, what: "the kubelet to run solo's container" },
    );
    const watcher = startService("watcher", {
      CROWSNEST_RUNTIME: "kubernetes",
      CROWSNEST_KUBECONFIG: kubeconfig,
      CROWSNEST_KUBERNETES_NODE_NAME: nodeName,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HEARTBEAT_INTERVAL_MS: "1000",
    });
    try {
      const inventory = await eventually(
        () => recording.inventories.find((message) => message.reason === "startup"),
        { timeoutMs: 30_000, what: "the startup inventory" },
      );
      expect(inventory).toMatchObject({ host: nodeName, runtime: "kubernetes" });
      // Other runs' pods may be on the node too: this run's namespace holds solo alone.
      const own = inventory.containers.filter(
        (container) => container.kubernetes?.namespace === namespace.name,
      );
      expect(own).toMatchObject([
        {
          external_id: `${namespace.name}/solo/app`,
          state: "running",
          restart_count: 0,
          image_id: status.imageID,
          limits: { mem_limit: 64 * MIB, cpu_limit_cores: 0.25 },
          kubernetes: { namespace: namespace.name, pod: "solo", container: "app", node: nodeName },
        },
      ]);
      const heartbeat = await eventually(() => recording.heartbeats.find((message) => message.connected), {
        timeoutMs: 15_000,
        what: "a connected heartbeat",
      });
      expect(heartbeat).toMatchObject({ runtime: "kubernetes", host: nodeName });

      // A pod made while the watcher runs: its container's start and its exit with 3, live.
      await createPod({
        name: "brief",
        restartPolicy: "Never",
        containers: [{ name: "app", command: ["sh", "-c", "sleep 1; exit 3"] }],
      });
      const externalId = `${namespace.name}/brief/app`;
      const die = await eventually(() => eventsOf(externalId, "die")[0], {
        timeoutMs: 60_000,
        what: "brief's die",
      });
      expect(die).toMatchObject({ exit_code: 3, oom_killed: false, synthesized: false });
      expect(eventsOf(externalId, "start")).toMatchObject([{ synthesized: false }]);
      expect(eventsOf(externalId, "oom")).toEqual([]);

      // solo's log, from the container through the API server and the kubelet.
      const replies = await requestLogsOverBus(
        nc,
        subjects.rpc(nodeName, "logs"),
        { container: `${namespace.name}/solo/app` },
        { timeoutMs: 20_000 },
      );
      expect(logTexts(replies)).toEqual(["hello from solo"]);
      expect(recording.undecodable).toEqual([]);
      expect(watcher.otherOutput).toEqual([]);
    } finally {
      expect(await watcher.stop()).toBe(0);
    }
  });
});

describe.skipIf(kubeconfig === "")("the watcher's main.ts in Kubernetes mode, misconfigured", () => {
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
