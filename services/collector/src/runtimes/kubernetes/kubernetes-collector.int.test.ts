// The collector's Kubernetes mode as it ships (its real main.ts in a child process) against a
// real kube-apiserver: a fake node whose kubelet is a stand-in serving a summary the test sets,
// a pod with limits bound to it, and the samples read back from NATS the way any subscriber
// would. The samples must carry the same fields and units as the Docker collector's, limits from
// the pod spec, null where nothing gives a value, and the node's host sample; with the summary
// gone, metrics.k8s.io (served through the real aggregator) takes over, marked as such.

import { setTimeout as sleep } from "node:timers/promises";
import { ANY, codecs, createSubjects, type HostStatsMessage, type StatsMessage } from "@crowsnest/shared";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { deleteTestStreams } from "../../../../../test/support/bus-fixtures.ts";
import { type KubeletStandIn, startKubeletStandIn } from "../../../../../test/support/kubelet-stand-in.ts";
import {
  connectKubernetesCluster,
  type FakeNode,
  type KubernetesCluster,
  type TestNamespace,
  uniqueKubernetesName,
} from "../../../../../test/support/kubernetes-cluster.ts";
import {
  type LogRecord,
  type ServiceProcess,
  startService,
} from "../../../../../test/support/service-process.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
} from "../../../../../test/support/test-env.ts";
import { buildStatsSample } from "../../core/stats-sample.ts";
import { containerReading } from "../docker/docker-reading.ts";
import { podMetricsList, summary, summaryPod } from "./fixtures/summary-fixtures.ts";

const MIB = 2 ** 20;
const GIB = 2 ** 30;
const kubeconfig = inject("kubeconfig");

/** The kubelet writes whole seconds. */
function kubeletTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

describe.skipIf(!kubeconfig)("collector in Kubernetes mode against a real API server", () => {
  const prefix = testSubjectPrefix();
  const received: StatsMessage[] = [];
  const hostSamples: HostStatsMessage[] = [];
  const undecodable: string[] = [];
  // Whole seconds, so the samples' timestamps are exactly the summary's, and an hour back: the
  // collector narrows a whole-second time only when its second overlaps the request (a reading
  // taken while it waited), which a stand-in's fixed summary must not do by chance.
  const t0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
  let cluster: KubernetesCluster;
  let standIn: KubeletStandIn;
  let node: FakeNode;
  let namespace: TestNamespace;
  let podUid = "";
  let nc: NatsConnection;
  let collector: ServiceProcess | undefined;

  /** The summary of the fake node `seconds` after t0: the pod's `app` (rate and counter, half a core) and `sidecar` (counter only). */
  function nodeSummary(seconds: number, sidecarCoreNs: number) {
    const time = kubeletTime(t0 + seconds * 1000);
    const body = summary(
      { time, usageNanoCores: 1_000_000_000, availableBytes: 5 * GIB, workingSetBytes: 3 * GIB },
      [
        {
          namespace: namespace.name,
          name: "web",
          uid: podUid,
          time,
          containers: [
            { name: "sidecar", time, usageCoreNanoSeconds: sidecarCoreNs, workingSetBytes: 8 * MIB },
            {
              name: "app",
              time,
              usageNanoCores: 500_000_000,
              usageCoreNanoSeconds: 90e9 + seconds * 0.5e9,
              workingSetBytes: 64 * MIB,
            },
          ],
          interfaces: [{ name: "eth0", rxBytes: 100_000 + seconds * 1000, txBytes: 50_000 }],
          processCount: 7,
        },
      ],
    );
    (body.node as Record<string, unknown>).nodeName = node.name;
    return body;
  }

  const samplesOf = (container: string) =>
    received.filter((message) => message.container.external_id === `${namespace.name}/web/${container}`);

  beforeAll(async () => {
    cluster = connectKubernetesCluster(kubeconfig);
    standIn = await startKubeletStandIn({ kubeconfigPath: kubeconfig });
    node = await cluster.registerFakeNode({
      name: uniqueKubernetesName("cn-collector"),
      kubeletPort: standIn.port,
    });
    namespace = await cluster.createNamespace("cn-collector");
    const pod = await cluster.create(`/api/v1/namespaces/${namespace.name}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", labels: { app: "web" } },
      spec: {
        nodeName: node.name,
        // Nothing runs it: no token to wait for (the namespace's may not exist yet).
        automountServiceAccountToken: false,
        containers: [
          {
            name: "app",
            image: "registry.invalid/app:1",
            resources: {
              limits: { cpu: "500m", memory: "256Mi" },
              requests: { cpu: "250m", memory: "128Mi" },
            },
          },
          { name: "sidecar", image: "registry.invalid/sidecar:1" },
        ],
      },
    });
    podUid = pod.metadata?.uid ?? "";
    standIn.setSummary(nodeSummary(0, 40e9));

    nc = await connectTestNats();
    const subjects = createSubjects(prefix);
    const stats = nc.subscribe(subjects.stats(node.name, "kubernetes", ANY));
    void (async () => {
      for await (const msg of stats) {
        const decoded = codecs.stats.decode(msg.data);
        if (decoded.ok) received.push(decoded.value);
        else undecodable.push(decoded.detail);
      }
    })();
    const hosts = nc.subscribe(subjects.hostStats(node.name));
    void (async () => {
      for await (const msg of hosts) {
        const decoded = codecs.hostStats.decode(msg.data);
        if (decoded.ok) hostSamples.push(decoded.value);
        else undecodable.push(decoded.detail);
      }
    })();
    await nc.flush();

    collector = startService("collector", {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_RUNTIME: "kubernetes",
      CROWSNEST_KUBECONFIG: kubeconfig,
      CROWSNEST_KUBERNETES_NODE_NAME: node.name,
      CROWSNEST_COLLECT_INTERVAL_MS: "1000",
      CROWSNEST_KUBERNETES_SPEC_MAX_AGE_MS: "5000",
      CROWSNEST_LOG_LEVEL: "info",
    });
    await collector.waitForLog((record) => record.msg === "collecting");
  });

  afterAll(async () => {
    const exitCode = collector === undefined ? undefined : await collector.stop();
    await cluster
      ?.delete("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io")
      .catch(() => undefined);
    await namespace?.delete();
    await node?.remove();
    await standIn?.stop();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    if (exitCode !== undefined) expect(exitCode).toBe(0);
  });

  it("publishes each container with Docker's fields and units, limits from the spec, and null where nothing gives a value", async () => {
    const app = await eventually(() => samplesOf("app")[0], {
      timeoutMs: 15_000,
      what: "a sample of the app container",
    });
    expect(app).toEqual({
      v: 1,
      host: node.name,
      runtime: "kubernetes",
      container: { external_id: `${namespace.name}/web/app`, name: `${namespace.name}/web/app` },
      ts: new Date(t0).toISOString(),
      interval_ms: null,
      // A counter read once gives no CPU yet; the kubelet's own rate beside it is not used.
      cpu_percent: null,
      // The fake node's capacity.
      online_cpus: 4,
      cpu_limit_cores: 0.5,
      mem_used: 64 * MIB,
      mem_limit: 256 * MIB,
      // The pod's network and process count are attributed to its first container in spec order.
      net_rx_bytes: 100_000,
      net_tx_bytes: 50_000,
      net_rx_bytes_per_s: null,
      net_tx_bytes_per_s: null,
      blk_read_bytes: null,
      blk_write_bytes: null,
      blk_read_bytes_per_s: null,
      blk_write_bytes_per_s: null,
      pids: 7,
      source: "kubelet_summary",
    });
    // Read from the stand-in through the API server's node proxy, not from anywhere else.
    expect(standIn.requests.some((request) => request.path === "/stats/summary")).toBe(true);
    const [sidecar] = samplesOf("sidecar");
    expect(sidecar).toMatchObject({
      container: { name: `${namespace.name}/web/sidecar` },
      // No rate from the kubelet and no previous sample yet.
      cpu_percent: null,
      mem_used: 8 * MIB,
      mem_limit: null,
      cpu_limit_cores: null,
      net_rx_bytes: null,
      pids: null,
    });

    // What the Docker collector publishes for the same facts: 64 MiB used, the same limits. Same
    // fields, same units, same numbers (CPU in the next test).
    const docker = buildStatsSample({
      host: node.name,
      runtime: "docker",
      previous: dockerReading(t0 - 10_000, 85e9, 0),
      reading: dockerReading(t0, 90e9, 40e9),
    });
    const { source, ...kubernetesFields } = app;
    expect(source).toBe("kubelet_summary");
    expect(Object.keys(kubernetesFields).sort()).toEqual(Object.keys(docker).sort());
    expect(docker).toMatchObject({
      online_cpus: app.online_cpus,
      mem_used: app.mem_used,
      mem_limit: app.mem_limit,
      cpu_limit_cores: app.cpu_limit_cores,
    });
  });

  it("computes CPU from the counter and rates from its own previous sample", async () => {
    // The kubelet's next reading, 10 s later: the sidecar used 2.5 s of CPU, the app 5 s (half a
    // core, as the Docker sample above), the pod received 10 kB.
    standIn.setSummary(nodeSummary(10, 42.5e9));
    await eventually(() => (samplesOf("sidecar").length >= 2 ? true : undefined), {
      timeoutMs: 15_000,
      what: "a second sample of the sidecar",
    });
    expect(samplesOf("sidecar")[1]).toMatchObject({ cpu_percent: 25, interval_ms: 10_000 });
    expect(samplesOf("app")[1]).toMatchObject({
      cpu_percent: 50,
      net_rx_bytes: 110_000,
      net_rx_bytes_per_s: 1000,
    });
    // Ticks in between read the same summary again: nothing new, nothing republished.
    expect(samplesOf("app").map((message) => message.ts)).toEqual([
      new Date(t0).toISOString(),
      new Date(t0 + 10_000).toISOString(),
    ]);
  });

  it("publishes the node's host sample from the summary's node section", async () => {
    const sample = await eventually(() => hostSamples[0], { timeoutMs: 15_000, what: "a host sample" });
    expect(sample).toMatchObject({
      v: 1,
      host: node.name,
      ts: new Date(t0).toISOString(),
      // One core busy of four.
      cpu_percent: 25,
      online_cpus: 4,
      mem_total: 8 * GIB,
      mem_used: 3 * GIB,
      mem_available: 5 * GIB,
    });
    expect(sample.load_1).toBeGreaterThanOrEqual(0);
    expect(sample.uptime_s).toBeGreaterThan(0);
    expect(undecodable).toEqual([]);
  });

  it("publishes a pod created while it runs with its limits from the very first sample", async () => {
    // Created after the collector's last pod list (it lists every 5 s here), and reported by the
    // kubelet at once: the collector must read it before publishing, not call it unlimited.
    const late = await cluster.create(`/api/v1/namespaces/${namespace.name}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "late" },
      spec: {
        nodeName: node.name,
        automountServiceAccountToken: false,
        containers: [
          {
            name: "worker",
            image: "registry.invalid/worker:1",
            resources: { limits: { cpu: "250m", memory: "128Mi" } },
          },
        ],
      },
    });
    const body = nodeSummary(10, 42.5e9);
    const time = kubeletTime(t0 + 10_000);
    (body.pods as unknown[]).push(
      summaryPod({
        namespace: namespace.name,
        name: "late",
        uid: late.metadata?.uid ?? "",
        time,
        containers: [{ name: "worker", time, usageNanoCores: 1e8, workingSetBytes: 32 * MIB }],
      }),
    );
    standIn.setSummary(body);

    const first = await eventually(
      () => received.find((message) => message.container.external_id === `${namespace.name}/late/worker`),
      { timeoutMs: 15_000, what: "the first sample of the new pod" },
    );
    expect(first).toMatchObject({ mem_limit: 128 * MIB, cpu_limit_cores: 0.25, cpu_percent: 10 });
  });

  it("falls back to metrics.k8s.io when the node has no summary, marks the samples and says so once", async () => {
    // metrics-server's place, through the API server's real aggregator: an APIService whose
    // Service is an ExternalName for localhost, on the stand-in's port.
    await cluster.create(`/api/v1/namespaces/${namespace.name}/services`, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "metrics-stand-in" },
      spec: {
        type: "ExternalName",
        externalName: "localhost",
        ports: [{ name: "https", port: standIn.port }],
      },
    });
    standIn.setJson("/apis/metrics.k8s.io/v1beta1", {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: "metrics.k8s.io/v1beta1",
      resources: [
        { name: "pods", singularName: "", namespaced: true, kind: "PodMetrics", verbs: ["get", "list"] },
      ],
    });
    const metricsTime = kubeletTime(t0 + 20_000);
    standIn.setJson(
      "/apis/metrics.k8s.io/v1beta1/pods",
      podMetricsList([
        {
          namespace: namespace.name,
          name: "web",
          timestamp: metricsTime,
          containers: [
            { name: "app", cpu: "250000000n", memory: "65536Ki" },
            { name: "sidecar", cpu: "1m", memory: "8Mi" },
          ],
        },
      ]),
    );
    await cluster.create("/apis/apiregistration.k8s.io/v1/apiservices", {
      apiVersion: "apiregistration.k8s.io/v1",
      kind: "APIService",
      metadata: { name: "v1beta1.metrics.k8s.io" },
      spec: {
        group: "metrics.k8s.io",
        version: "v1beta1",
        service: { namespace: namespace.name, name: "metrics-stand-in", port: standIn.port },
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    });
    await eventually(
      async () =>
        (await cluster.request("GET", "/apis/metrics.k8s.io/v1beta1/pods")).status === 200 ? true : undefined,
      { timeoutMs: 30_000, what: "metrics.k8s.io served through the aggregator" },
    );

    // The kubelet's summary goes away: the node proxy answers 404.
    standIn.setSummary(undefined);
    const fromMetrics = await eventually(
      () => samplesOf("app").find((message) => message.source === "metrics_api"),
      { timeoutMs: 15_000, what: "a sample from metrics.k8s.io" },
    );
    expect(fromMetrics).toEqual({
      v: 1,
      host: node.name,
      runtime: "kubernetes",
      container: { external_id: `${namespace.name}/web/app`, name: `${namespace.name}/web/app` },
      ts: new Date(t0 + 20_000).toISOString(),
      interval_ms: 10_000,
      cpu_percent: 25,
      online_cpus: 4,
      cpu_limit_cores: 0.5,
      mem_used: 64 * MIB,
      mem_limit: 256 * MIB,
      net_rx_bytes: null,
      net_tx_bytes: null,
      net_rx_bytes_per_s: null,
      net_tx_bytes_per_s: null,
      blk_read_bytes: null,
      blk_write_bytes: null,
      blk_read_bytes_per_s: null,
      blk_write_bytes_per_s: null,
      pids: null,
      source: "metrics_api",
    });
    // metrics.k8s.io was served by the stand-in, through the aggregator.
    expect(standIn.requests.some((request) => request.path === "/apis/metrics.k8s.io/v1beta1/pods")).toBe(
      true,
    );
    const isSwitch = (record: LogRecord) => record.msg.includes("from metrics.k8s.io");
    expect(await collector?.waitForLog(isSwitch)).toMatchObject({
      level: "warn",
      node: node.name,
      status: 404,
    });
    // Logged once, not once per tick: a few more ticks of fallback add no line.
    await sleep(2500);
    expect(collector?.logs.filter(isSwitch)).toHaveLength(1);
  });
});

/** A Docker stats reading of the equivalent container: 4 CPUs, 64 MiB used. */
/** What the Docker runtime hands the sampling core for a container with these counters. */
function dockerReading(readAtMs: number, cpuTotalNs: number, systemCpuNs: number) {
  const counters = {
    readAtMs,
    cpuTotalNs,
    systemCpuNs,
    onlineCpus: 4,
    memUsedBytes: 64 * MIB,
    netRxBytes: 100_000,
    netTxBytes: 50_000,
    blkReadBytes: 0,
    blkWriteBytes: 0,
    pids: 7,
  };
  const container = { id: "f".repeat(64), name: "web-app" };
  return containerReading(container, counters, { memLimitBytes: 256 * MIB, cpuLimitCores: 0.5 }, false);
}
