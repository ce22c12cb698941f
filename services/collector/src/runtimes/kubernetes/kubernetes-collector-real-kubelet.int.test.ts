// The collector in Kubernetes mode (its real main.ts in a child process) on the test cluster's
// real node (test/infra/kubernetes/start.sh): the Summary API is the real kubelet's, its figures
// containerd's and the kernel's, for a pod that burns CPU under a 200m limit and holds 24 MiB.
// Read both ways the collector can: through the API server's node proxy, and from the kubelet
// directly. Exact figures (rates, counters, the metrics.k8s.io fallback) stay in
// kubernetes-collector.int.test.ts, whose stand-in serves summaries the test writes.
import { ANY, codecs, createSubjects, type HostStatsMessage, type StatsMessage } from "@crowsnest/shared";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams } from "../../../../../test/support/bus-fixtures.ts";
import {
  connectKubernetesCluster,
  type KubernetesCluster,
  type TestNamespace,
  testKubeconfigPath,
} from "../../../../../test/support/kubernetes-cluster.ts";
import {
  podStatus,
  realKubeletExpected,
  realPod,
  requireRealKubeletNode,
} from "../../../../../test/support/real-kubelet.ts";
import { type ServiceProcess, startService } from "../../../../../test/support/service-process.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
  workloadImage,
} from "../../../../../test/support/test-env.ts";

const MIB = 2 ** 20;

interface NodeFacts {
  status: {
    capacity: { cpu: string; memory: string };
    daemonEndpoints: { kubeletEndpoint: { Port: number } };
  };
}

/** A quantity as the kubelet writes node memory: `<n>Ki`. */
function kibibytes(quantity: string): number {
  const match = /^(\d+)Ki$/.exec(quantity);
  if (!match) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(match[1]) * 1024;
}

describe.skipIf(!realKubeletExpected())("collector in Kubernetes mode on a real kubelet", () => {
  let nodeName = "";
  let node: NodeFacts;
  let cluster: KubernetesCluster;
  let namespace: TestNamespace;
  let nc: NatsConnection;
  const collectors: ServiceProcess[] = [];
  const subscriptions: Subscription[] = [];
  const prefixes: string[] = [];

  /** Starts a collector for the real node on its own subjects; returns what it publishes. */
  async function startCollector(extraEnv: Record<string, string>) {
    const prefix = testSubjectPrefix();
    prefixes.push(prefix);
    const subjects = createSubjects(prefix);
    const received: StatsMessage[] = [];
    const hostSamples: HostStatsMessage[] = [];
    const undecodable: string[] = [];
    const record = <T>(
      subject: string,
      decode: (data: Uint8Array) => { ok: true; value: T } | { ok: false; detail: string },
      into: T[],
    ) => {
      const subscription = nc.subscribe(subject);
      subscriptions.push(subscription);
      void (async () => {
        for await (const message of subscription) {
          const decoded = decode(message.data);
          if (decoded.ok) into.push(decoded.value);
          else undecodable.push(decoded.detail);
        }
      })();
    };
    record(subjects.stats(nodeName, "kubernetes", ANY), (data) => codecs.stats.decode(data), received);
    record(subjects.hostStats(nodeName), (data) => codecs.hostStats.decode(data), hostSamples);
    await nc.flush();
    const collector = startService("collector", {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_RUNTIME: "kubernetes",
      CROWSNEST_KUBECONFIG: testKubeconfigPath(),
      CROWSNEST_KUBERNETES_NODE_NAME: nodeName,
      CROWSNEST_COLLECT_INTERVAL_MS: "1000",
      CROWSNEST_LOG_LEVEL: "info",
      ...extraEnv,
    });
    collectors.push(collector);
    await collector.waitForLog((record) => record.msg === "collecting");
    return { received, hostSamples, undecodable };
  }

  beforeAll(async () => {
    nodeName = requireRealKubeletNode();
    cluster = connectKubernetesCluster(testKubeconfigPath());
    node = await cluster.get<NodeFacts>(`/api/v1/nodes/${nodeName}`);
    namespace = await cluster.createNamespace("cn-real-collector");
    // 24 MiB in /dev/shm (charged to the container's memory cgroup), and a busy loop the CFS
    // quota holds to a fifth of a core.
    await cluster.create(
      `/api/v1/namespaces/${namespace.name}/pods`,
      realPod(
        {
          name: "burner",
          node: nodeName,
          containers: [
            {
              name: "app",
              command: [
                "sh",
                "-c",
                "dd if=/dev/zero of=/dev/shm/ballast bs=1M count=24; while :; do :; done",
              ],
              resources: { limits: { cpu: "200m", memory: "64Mi" } },
            },
            { name: "idle", command: ["sleep", "3600"] },
          ],
        },
        workloadImage(),
      ),
    );
    await eventually(
      async () => {
        const statuses = (await podStatus(cluster, namespace.name, "burner")).containerStatuses ?? [];
        return statuses.length === 2 && statuses.every((status) => status.state?.running) ? true : undefined;
      },
      { timeoutMs: 60_000, what: "the burner pod's containers running" },
    );
    nc = await connectTestNats();
  });

  afterAll(async () => {
    const exitCodes: (number | null)[] = [];
    for (const collector of collectors) exitCodes.push(await collector.stop());
    for (const subscription of subscriptions) subscription.unsubscribe();
    await namespace?.delete();
    if (nc) {
      for (const prefix of prefixes) await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    expect(exitCodes.every((code) => code === 0)).toBe(true);
  });

  async function checkSamples(run: Awaited<ReturnType<typeof startCollector>>) {
    const externalId = `${namespace.name}/burner/app`;
    const samplesOfApp = () => run.received.filter((message) => message.container.external_id === externalId);
    // CPU comes from the counter's growth between two of the collector's readings (the kubelet's
    // own rate is over the window since whichever client asked it last, and overshot the quota
    // on short windows): from the second sample on.
    const sample = await eventually(
      () =>
        samplesOfApp().find((message) => message.cpu_percent !== null && (message.mem_used ?? 0) >= 24 * MIB),
      { timeoutMs: 45_000, what: "a sample of the burner with CPU and its ballast" },
    );
    expect(sample).toMatchObject({
      host: nodeName,
      runtime: "kubernetes",
      container: { external_id: externalId, name: externalId },
      source: "kubelet_summary",
      cpu_limit_cores: 0.2,
      mem_limit: 64 * MIB,
      online_cpus: Number(node.status.capacity.cpu),
    });
    // A fifth of a core at most (the quota), and surely more than nothing.
    expect(sample.cpu_percent).toBeGreaterThan(1);
    expect(sample.cpu_percent).toBeLessThanOrEqual(30);
    expect(sample.mem_used).toBeLessThan(64 * MIB);
    // The kubelet writes whole seconds; read while the collector waited, they are narrowed to
    // the request (the CRI stats provider reads on request), so not every one stays whole.
    expect(samplesOfApp().some((message) => !message.ts.endsWith(".000Z"))).toBe(true);
    const idle = await eventually(
      () => run.received.find((message) => message.container.external_id === `${namespace.name}/burner/idle`),
      { timeoutMs: 15_000, what: "a sample of the idle container" },
    );
    expect(idle).toMatchObject({ source: "kubelet_summary", cpu_limit_cores: null, mem_limit: null });

    const hostSample = await eventually(() => run.hostSamples[0], {
      timeoutMs: 15_000,
      what: "a host sample",
    });
    expect(hostSample).toMatchObject({
      host: nodeName,
      online_cpus: Number(node.status.capacity.cpu),
      mem_total: kibibytes(node.status.capacity.memory),
    });
    expect(hostSample.mem_used).toBeGreaterThan(0);
    expect(run.undecodable).toEqual([]);
  }

  it("samples real pods from the kubelet's Summary API through the API server's node proxy", {
    timeout: 90_000,
  }, async () => {
    await checkSamples(await startCollector({}));
  });

  it("samples real pods from the kubelet itself, with the collector's own credentials", {
    timeout: 90_000,
  }, async () => {
    await checkSamples(
      await startCollector({
        CROWSNEST_KUBELET_HOST: "127.0.0.1",
        CROWSNEST_KUBELET_PORT: String(node.status.daemonEndpoints.kubeletEndpoint.Port),
      }),
    );
  });
});
