// The Kubernetes watcher on the test cluster's real node (test/infra/kubernetes/start.sh: a
// kubelet on its own containerd): the pods run for real, so an OOM kill is the kernel's under a
// 32 MiB limit, the restart is the kubelet's, and logs (with `previous`) are the containers'
// own, read through the API server and the kubelet. What a real kubelet cannot be made to do
// (a watch cut or frozen on demand, a kubelet that does not run a pod the API server shows on
// its node) stays in kubernetes-watcher.int.test.ts with the stand-in.
import {
  type Bus,
  codecs,
  type EventMessage,
  type InspectReply,
  type InventoryMessage,
  type LogsReply,
} from "@crowsnest/shared";
import { createKubeClient, type KubeClient, loadKubeconfigFile } from "@crowsnest/shared/kubernetes";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectKubernetesCluster,
  type KubernetesCluster,
  type TestNamespace,
  testKubeconfigPath,
} from "../../../../../test/support/kubernetes-cluster.ts";
import { logTexts, requestLogsOverBus } from "../../../../../test/support/logs-rpc.ts";
import {
  podStatus,
  realKubeletExpected,
  realPod,
  requireRealKubeletNode,
} from "../../../../../test/support/real-kubelet.ts";
import { eventually, testSubjectPrefix, workloadImage } from "../../../../../test/support/test-env.ts";
import { type KubeWatcherOnBus, startKubeWatcherOnBus } from "./fixtures/kube-watcher-on-bus.ts";

const MIB = 2 ** 20;

describe.skipIf(!realKubeletExpected())("Kubernetes watcher on a real kubelet", () => {
  const host = `real-kubelet-${testSubjectPrefix()}`;
  const events: EventMessage[] = [];
  const inventories: InventoryMessage[] = [];
  const undecodable: string[] = [];
  let nodeName = "";
  let cluster: KubernetesCluster;
  let namespace: TestNamespace;
  let client: KubeClient;
  let bus: Bus;
  let nc: NatsConnection;
  let harness: KubeWatcherOnBus | undefined;

  const eventsOf = (externalId: string, action: string) =>
    events.filter((event) => event.actor.external_id === externalId && event.action === action);
  const latestInventory = () => {
    const newest = inventories.at(-1);
    return newest === undefined
      ? []
      : inventories
          .filter((inventory) => inventory.snapshot_id === newest.snapshot_id)
          .flatMap((inventory) => inventory.containers);
  };

  async function createPod(pod: Parameters<typeof realPod>[0]): Promise<void> {
    await cluster.create(`/api/v1/namespaces/${namespace.name}/pods`, realPod(pod, workloadImage()));
  }

  /** Waits until the kubelet reports the pod's container running after `restarts` restarts. */
  async function runningAfter(pod: string, restarts: number, timeoutMs: number) {
    return eventually(
      async () => {
        const [status] = (await podStatus(cluster, namespace.name, pod)).containerStatuses ?? [];
        return status?.restartCount === restarts && status.state?.running !== undefined ? status : undefined;
      },
      { timeoutMs, what: `${pod} running after ${restarts} restarts` },
    );
  }

  const requestLogs = (payload: Record<string, unknown>, onReply?: (reply: LogsReply) => void) =>
    requestLogsOverBus(nc, bus.subjects.rpc(host, "logs"), payload, {
      timeoutMs: 20_000,
      ...(onReply ? { onReply } : {}),
    });
  const texts = logTexts;

  beforeAll(async () => {
    nodeName = requireRealKubeletNode();
    const kubeconfig = testKubeconfigPath();
    cluster = connectKubernetesCluster(kubeconfig);
    namespace = await cluster.createNamespace("crowsnest-real-kubelet");
    client = createKubeClient({ access: await loadKubeconfigFile(kubeconfig), timeoutMs: 10_000 });

    harness = await startKubeWatcherOnBus({
      host,
      client,
      nodeName,
      watchStallMs: 30_000,
      requestTimeoutMs: 10_000,
      backoff: { initialMs: 100, maxMs: 1000 },
      logsMaxDurationMs: 4000,
      listTimeoutMs: 15_000,
      record: { events, inventories, undecodable },
    });
    ({ bus, nc } = harness);
  });

  afterAll(async () => {
    await harness?.stop();
    client?.close();
    await namespace?.delete();
  });

  it("reports a real OOM kill under a 32 MiB limit as exactly one oom, one die 137 and one restart", {
    timeout: 150_000,
  }, async () => {
    // The first run writes a mark in the pod's emptyDir and allocates 64 MiB in one buffer; the
    // restarted one finds the mark and stays up, so there is exactly one kill to report.
    await createPod({
      name: "hog",
      node: nodeName,
      volumes: [{ name: "marks", emptyDir: {} }],
      containers: [
        {
          name: "app",
          command: [
            "sh",
            "-c",
            "if [ -e /marks/ran ]; then echo after the restart; exec sleep 3600; fi; " +
              "touch /marks/ran; echo before the OOM; exec dd if=/dev/zero of=/dev/null bs=64M count=1",
          ],
          volumeMounts: [{ name: "marks", mountPath: "/marks" }],
          resources: { limits: { memory: "32Mi", cpu: "500m" } },
        },
      ],
    });
    const externalId = `${namespace.name}/hog/app`;
    // The kubelet restarts a crashed container after a 10 s back-off.
    const status = await runningAfter("hog", 1, 120_000);
    expect(status.lastState?.terminated).toMatchObject({ exitCode: 137, reason: "OOMKilled" });
    await eventually(() => eventsOf(externalId, "restart")[0], {
      timeoutMs: 15_000,
      what: "the restart event",
    });
    // The kubelet writes the pod's status a few more times (readiness, conditions); none of it
    // may repeat a fact. Two inventory rounds later, the counts are final.
    const settled = inventories.length;
    await eventually(() => (inventories.length >= settled + 2 ? true : undefined), {
      timeoutMs: 15_000,
      what: "two more inventories",
    });
    expect(eventsOf(externalId, "oom")).toHaveLength(1);
    expect(eventsOf(externalId, "die")).toMatchObject([
      { exit_code: 137, oom_killed: true, attributes: { reason: "OOMKilled" } },
    ]);
    expect(eventsOf(externalId, "restart")).toMatchObject([{ attributes: { restart_count: "1" } }]);
    expect(eventsOf(externalId, "start")).toHaveLength(2);
    const [oom] = eventsOf(externalId, "oom");
    expect(oom?.ts).toBe(eventsOf(externalId, "die")[0]?.ts);

    const entry = await eventually(
      () =>
        latestInventory().find(
          (container) => container.external_id === externalId && container.restart_count === 1,
        ),
      { timeoutMs: 10_000, what: "the restarted container in the inventory" },
    );
    expect(entry).toMatchObject({
      state: "running",
      image_id: status.imageID,
      limits: { mem_limit: 32 * MIB, cpu_limit_cores: 0.5 },
      kubernetes: { namespace: namespace.name, pod: "hog", container: "app", node: nodeName },
    });
    expect(undecodable).toEqual([]);
  });

  it("reports a container that exits 3 as one die with its code, not an OOM", {
    timeout: 90_000,
  }, async () => {
    await createPod({
      name: "fails",
      node: nodeName,
      restartPolicy: "Never",
      containers: [{ name: "app", command: ["sh", "-c", "echo failing; exit 3"] }],
    });
    const externalId = `${namespace.name}/fails/app`;
    const die = await eventually(() => eventsOf(externalId, "die")[0], {
      timeoutMs: 60_000,
      what: "the die event of the failing container",
    });
    expect(die).toMatchObject({ exit_code: 3, oom_killed: false, synthesized: false });
    expect(eventsOf(externalId, "oom")).toEqual([]);
    expect(eventsOf(externalId, "restart")).toEqual([]);
  });

  it("answers log requests from the real container: tail, timestamps, previous and follow", {
    timeout: 90_000,
  }, async () => {
    // The OOM-killed pod's first run is its previous instance.
    expect(texts(await requestLogs({ container: `${namespace.name}/hog/app` }))).toEqual([
      "after the restart",
    ]);
    expect(texts(await requestLogs({ container: `${namespace.name}/hog/app`, previous: true }))).toEqual([
      "before the OOM",
    ]);

    await createPod({
      name: "talker",
      node: nodeName,
      containers: [
        {
          name: "app",
          command: [
            "sh",
            "-c",
            'echo one; echo two; echo three; i=4; while true; do sleep 0.3; echo "line $i"; i=$((i+1)); done',
          ],
        },
      ],
    });
    await runningAfter("talker", 0, 60_000);
    const externalId = `${namespace.name}/talker/app`;
    await eventually(() => latestInventory().find((container) => container.external_id === externalId), {
      timeoutMs: 10_000,
      what: "the talker in the watcher's view",
    });
    const head = await requestLogs({ container: externalId, timestamps: true });
    const lines = head.flatMap((reply) => (reply.ok ? reply.lines : []));
    expect(lines.slice(0, 3).map((line) => line.text)).toEqual(["one", "two", "three"]);
    expect(lines.every((line) => line.ts !== null)).toBe(true);
    // The tail is one line, and once the loop has begun it is a numbered one.
    await eventually(
      async () => {
        const tail = texts(await requestLogs({ container: externalId, tail: 1 }));
        expect(tail).toHaveLength(1);
        return tail[0]?.startsWith("line ") ? true : undefined;
      },
      { timeoutMs: 10_000, what: "a numbered line at the tail" },
    );

    const followed: string[] = [];
    const replies = await requestLogs({ container: externalId, tail: 1, follow: true }, (reply) => {
      if (reply.ok) followed.push(...reply.lines.map((line) => line.text));
    });
    // The follow lasts 4 s; the container writes a line every 0.3 s meanwhile.
    expect(replies.at(-1)).toMatchObject({ ok: true, done: true });
    expect(followed.length).toBeGreaterThanOrEqual(4);
    // One after the other, from the tail on: none lost, none twice.
    const first = Number(/^line (\d+)$/.exec(followed[0] ?? "")?.[1]);
    expect(followed).toEqual(followed.map((_, index) => `line ${first + index}`));

    expect(await requestLogs({ container: `${namespace.name}/talker/nope` })).toMatchObject([
      { ok: false, error: { code: "not_found" } },
    ]);
  });

  it("answers inspect requests for a real container", async () => {
    const reply = await nc.request(
      bus.subjects.rpc(host, "inspect"),
      JSON.stringify({ v: 1, container: `${namespace.name}/hog/app` }),
      { timeout: 10_000 },
    );
    const decoded = codecs.inspectReply.decode(reply.data);
    const answer = decoded.ok ? (decoded.value as InspectReply) : undefined;
    expect(answer).toMatchObject({
      ok: true,
      container: { external_id: `${namespace.name}/hog/app`, restart_count: 1, state: "running" },
    });
  });
});
