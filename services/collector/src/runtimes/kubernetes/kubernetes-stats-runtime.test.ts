import { setTimeout as sleep } from "node:timers/promises";
import { codecs, type HostStatsMessage, type StatsMessage } from "@crowsnest/shared";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PublishResult, StatsSink } from "../../core/stats-sink.ts";
import { captureLogger, linesWith } from "../../fixtures/capture-logger.ts";
import { ManualClock } from "../../fixtures/manual-clock.ts";
import { EARLY_REFRESH_MIN_MS, POD_GETS_PER_TICK_MAX } from "./cluster-facts.ts";
import {
  type KubernetesSampler,
  type KubernetesSamplerOptions,
  kubernetesSampler,
} from "./fixtures/kubernetes-sampler.ts";
import {
  NODE,
  nodeList,
  nodeObject,
  type PodSpecFigures,
  podList,
  podMetricsList,
  podObject,
  summary,
} from "./fixtures/summary-fixtures.ts";
import type { KubernetesApiPort } from "./kubernetes-api-port.ts";
import { WAITING_READINGS_MAX } from "./waiting-pods.ts";

const T0 = Date.parse("2026-11-21T21:00:00Z");
const MIB = 2 ** 20;
const GIB = 2 ** 30;

/** The RFC 3339 second the kubelet would write, `seconds` after T0. */
function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString().replace(".000Z", "Z");
}

class HttpStatusError extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`the server answered ${status}`);
    this.status = status;
  }
}

/** An API server that answers from a table of paths; an absent path is a 404. */
class FakeApi implements KubernetesApiPort {
  readonly routes = new Map<string, (signal: AbortSignal) => unknown>();
  readonly calls: string[] = [];
  inFlight = 0;
  maxInFlight = 0;

  on(path: string, answer: (signal: AbortSignal) => unknown): void {
    this.routes.set(path, answer);
  }

  async getJson(
    pathOnly: string,
    { query, signal }: { query?: Readonly<Record<string, string>>; signal: AbortSignal },
  ): Promise<unknown> {
    // Routes and calls are kept as path plus query string, the way the request goes out.
    const path = query === undefined ? pathOnly : `${pathOnly}?${new URLSearchParams(query).toString()}`;
    this.calls.push(path);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await sleep(1, undefined, { signal });
      const route = this.routes.get(path);
      if (route === undefined) throw new HttpStatusError(404);
      return await route(signal);
    } finally {
      this.inFlight -= 1;
    }
  }
}

class RecordingSink implements StatsSink {
  readonly messages: StatsMessage[] = [];
  publish(message: StatsMessage): PublishResult {
    const encoded = codecs.stats.encode(message);
    if (!encoded.ok) return { status: "invalid", detail: encoded.detail };
    this.messages.push(message);
    return { status: "queued" };
  }
  byId(id: string): StatsMessage[] {
    return this.messages.filter((message) => message.container.external_id === id);
  }
}

class RecordingHostSink {
  readonly messages: HostStatsMessage[] = [];
  publish(message: HostStatsMessage) {
    const encoded = codecs.hostStats.encode(message);
    if (!encoded.ok) return { status: "invalid" as const, detail: encoded.detail };
    this.messages.push(message);
    return { status: "queued" as const };
  }
}

const NODE_PODS_PATH = `/api/v1/pods?${new URLSearchParams({ fieldSelector: `spec.nodeName=${NODE}`, resourceVersion: "0" })}`;
const SUMMARY_PATH = `/api/v1/nodes/${NODE}/proxy/stats/summary`;
const METRICS_PATH = "/apis/metrics.k8s.io/v1beta1/pods";
const WEB_PATH = "/api/v1/namespaces/shop/pods/web-7d9f";

const WEB: PodSpecFigures = {
  namespace: "shop",
  name: "web-7d9f",
  uid: "u-web",
  containers: [{ name: "app", limits: { cpu: "500m", memory: "256Mi" } }, { name: "proxy" }],
};

/** The summary of one node running WEB, `seconds` after T0. */
function webSummary(seconds: number, figures: { appCoreNs?: number; appNanoCores?: number } = {}) {
  const time = at(seconds);
  return summary({ time, usageNanoCores: 1_000_000_000, availableBytes: 5 * GIB, workingSetBytes: 3 * GIB }, [
    {
      namespace: "shop",
      name: "web-7d9f",
      uid: "u-web",
      time,
      containers: [
        // The kubelet lists containers in no particular order; the proxy comes first here on purpose.
        {
          name: "proxy",
          time,
          usageNanoCores: 10_000_000,
          usageCoreNanoSeconds: 1e9,
          workingSetBytes: 8 * MIB,
        },
        {
          name: "app",
          time,
          usageNanoCores: figures.appNanoCores,
          usageCoreNanoSeconds: figures.appCoreNs ?? 100e9,
          workingSetBytes: 64 * MIB,
        },
      ],
      interfaces: [{ name: "eth0", rxBytes: 10_000 + seconds * 1000, txBytes: 5_000 }],
      processCount: 5,
    },
  ]);
}

const collectors: KubernetesSampler[] = [];
afterEach(async () => {
  for (const collector of collectors.splice(0)) await collector.stop();
});

function nodeCollector(api: FakeApi, overrides: Partial<KubernetesSamplerOptions> = {}) {
  const { logger, lines } = captureLogger();
  const sink = new RecordingSink();
  const hostSink = new RecordingHostSink();
  const collector = kubernetesSampler({
    api,
    sink,
    host: NODE,
    nodeName: NODE,
    intervalMs: 60_000,
    concurrency: 4,
    timeoutMs: 500,
    specMaxAgeMs: 60_000,
    hostStats: { sink: hostSink, readLoad: () => ({ load: [0.25, 0.5, 0.75], uptimeS: 86_400 }) },
    logger,
    ...overrides,
  });
  collectors.push(collector);
  return { collector, sink, hostSink, lines };
}

function nodeApi(): FakeApi {
  const api = new FakeApi();
  api.on(`/api/v1/nodes/${NODE}`, () => nodeObject(NODE, { cpu: "4", memory: "8Gi" }));
  api.on(NODE_PODS_PATH, () => podList([WEB]));
  return api;
}

describe("the Kubernetes runtime on one node", () => {
  it("publishes every container with Docker's fields and units, limits from the spec, and the node's host sample", async () => {
    const api = nodeApi();
    let seconds = 0;
    let appCoreNs = 100e9;
    api.on(SUMMARY_PATH, () => webSummary(seconds, { appNanoCores: 500_000_000, appCoreNs }));
    const { collector, sink, hostSink } = nodeCollector(api);

    const tick = await collector.tick();
    expect(tick).toMatchObject({ apiReachable: true, nodes: 1, viaSummary: 1, containers: 2, published: 2 });
    expect(collector.connected).toBe(true);
    expect(sink.byId("shop/web-7d9f/app")).toEqual([
      {
        v: 1,
        host: NODE,
        runtime: "kubernetes",
        container: { external_id: "shop/web-7d9f/app", name: "shop/web-7d9f/app" },
        ts: "2026-11-21T21:00:00.000Z",
        interval_ms: null,
        // No CPU before a second reading of the counter: the kubelet's own rate (usageNanoCores)
        // is over the window since whichever client asked it last.
        cpu_percent: null,
        online_cpus: 4,
        cpu_limit_cores: 0.5,
        mem_used: 64 * MIB,
        mem_limit: 256 * MIB,
        // The pod's network and processes go to its first container in spec order.
        net_rx_bytes: 10_000,
        net_tx_bytes: 5_000,
        net_rx_bytes_per_s: null,
        net_tx_bytes_per_s: null,
        blk_read_bytes: null,
        blk_write_bytes: null,
        blk_read_bytes_per_s: null,
        blk_write_bytes_per_s: null,
        pids: 5,
        source: "kubelet_summary",
      },
    ]);
    expect(sink.byId("shop/web-7d9f/proxy")[0]).toMatchObject({
      cpu_percent: null,
      mem_used: 8 * MIB,
      mem_limit: null,
      cpu_limit_cores: null,
      net_rx_bytes: null,
      pids: null,
    });
    expect(hostSink.messages).toEqual([
      {
        v: 1,
        host: NODE,
        ts: "2026-11-21T21:00:00.000Z",
        cpu_percent: 25,
        online_cpus: 4,
        mem_total: 8 * GIB,
        mem_used: 3 * GIB,
        mem_available: 5 * GIB,
        load_1: 0.25,
        load_5: 0.5,
        load_15: 0.75,
        uptime_s: 86_400,
      },
    ]);
    // Half a core over the next 10 s is 50, as `docker stats` shows it, whatever the kubelet's rate.
    seconds = 10;
    appCoreNs = 105e9;
    await collector.tick();
    expect(sink.byId("shop/web-7d9f/app")[1]).toMatchObject({ interval_ms: 10_000, cpu_percent: 50 });
  });

  it("computes CPU and rates from its own previous sample, and publishes nothing for a reading it has seen", async () => {
    const api = nodeApi();
    let seconds = 0;
    let appCoreNs = 100e9;
    api.on(SUMMARY_PATH, () => webSummary(seconds, { appCoreNs }));
    const { collector, sink } = nodeCollector(api);

    await collector.tick();
    // The kubelet has not read its containers again: the same figures are no new sample.
    const unchanged = await collector.tick();
    expect(unchanged).toMatchObject({ containers: 2, published: 0, unchanged: 2 });
    seconds = 10;
    appCoreNs = 102.5e9;
    await collector.tick();
    // Restarted: the counter starts over.
    seconds = 20;
    appCoreNs = 0.1e9;
    await collector.tick();

    const app = sink.byId("shop/web-7d9f/app");
    expect(app.map((message) => message.cpu_percent)).toEqual([null, 25, null]);
    expect(app.map((message) => message.interval_ms)).toEqual([null, 10_000, null]);
    expect(app.map((message) => message.net_rx_bytes_per_s)).toEqual([null, 1000, null]);
  });

  it("reads a pod created after the last pod list with one GET, so its first sample has its limits", async () => {
    const api = nodeApi();
    api.on(NODE_PODS_PATH, () => podList([]));
    api.on(WEB_PATH, () => podObject(WEB));
    let seconds = 0;
    api.on(SUMMARY_PATH, () => webSummary(seconds));
    const { collector, sink } = nodeCollector(api, { now: () => T0 + seconds * 1000 });

    await collector.tick();
    seconds = 10;
    await collector.tick();

    expect(sink.byId("shop/web-7d9f/app").map((message) => message.mem_limit)).toEqual([
      256 * MIB,
      256 * MIB,
    ]);
    expect(sink.byId("shop/web-7d9f/app")[0]?.cpu_limit_cores).toBe(0.5);
    // The proxy has no limit: null is right for it, and only for it.
    expect(sink.byId("shop/web-7d9f/proxy")[0]).toMatchObject({ mem_limit: null, cpu_limit_cores: null });
    // One GET, kept: not one per tick, and no early list.
    expect(api.calls.filter((path) => path === WEB_PATH)).toHaveLength(1);
    expect(api.calls.filter((path) => path === NODE_PODS_PATH)).toHaveLength(1);
  });

  it("holds a new pod's samples while it cannot be read, retries with backoff, and publishes them in order once it can", async () => {
    const api = nodeApi();
    api.on(NODE_PODS_PATH, () => podList([]));
    let readable = false;
    api.on(WEB_PATH, () => {
      if (!readable) throw new HttpStatusError(503);
      return podObject(WEB);
    });
    let seconds = 0;
    api.on(SUMMARY_PATH, () => webSummary(seconds));
    let nowMs = T0;
    const { collector, sink, lines } = nodeCollector(api, { now: () => nowMs });
    const gets = () => api.calls.filter((path) => path === WEB_PATH).length;

    expect(await collector.tick()).toMatchObject({ containers: 0, published: 0, waiting: 2, dropped: 0 });
    expect(gets()).toBe(1);
    // Within the first backoff (1 s): not asked again.
    nowMs = T0 + 500;
    seconds = 10;
    await collector.tick();
    expect(gets()).toBe(1);
    nowMs = T0 + 1000;
    await collector.tick();
    expect(gets()).toBe(2);
    // The second failure doubles the wait: 2 s.
    nowMs = T0 + 2500;
    await collector.tick();
    expect(gets()).toBe(2);
    expect(sink.messages).toEqual([]);
    expect(linesWith(lines, "warn", "cannot read a new pod")).toHaveLength(1);

    readable = true;
    nowMs = T0 + 3000;
    seconds = 20;
    const tick = await collector.tick();
    expect(tick).toMatchObject({ published: 6, waiting: 0, dropped: 0 });
    const app = sink.byId("shop/web-7d9f/app");
    // Every reading the kubelet gave, in order, each with the limits; CPU and rates from the one before.
    expect(app.map((message) => message.ts)).toEqual(
      [0, 10, 20].map((second) => new Date(T0 + second * 1000).toISOString()),
    );
    expect(app.map((message) => message.mem_limit)).toEqual([256 * MIB, 256 * MIB, 256 * MIB]);
    expect(app.map((message) => message.interval_ms)).toEqual([null, 10_000, 10_000]);
    // The pod's network goes to its first container in spec order, known only now.
    expect(app.map((message) => message.net_rx_bytes)).toEqual([10_000, 20_000, 30_000]);
    expect(sink.byId("shop/web-7d9f/proxy").map((message) => message.net_rx_bytes)).toEqual([
      null,
      null,
      null,
    ]);
    expect(linesWith(lines, "info", "new pods read again")).toHaveLength(1);
  });

  it("never publishes a container without its pod's limits: it drops what waited too long, and says so once", async () => {
    const api = nodeApi();
    api.on(NODE_PODS_PATH, () => {
      throw new HttpStatusError(403);
    });
    api.on(WEB_PATH, () => {
      throw new HttpStatusError(403);
    });
    let seconds = 0;
    let running = true;
    api.on(SUMMARY_PATH, () =>
      running ? webSummary(seconds, { appNanoCores: 1e9 }) : webSummary(seconds, {}),
    );
    let nowMs = T0;
    const { collector, sink, lines } = nodeCollector(api, { now: () => nowMs });

    const dropped: number[] = [];
    for (let reading = 0; reading <= WAITING_READINGS_MAX; reading += 1) {
      seconds = reading * 10;
      nowMs = T0 + seconds * 1000;
      dropped.push((await collector.tick()).dropped);
    }
    // The pod's readings beyond the bound push out the oldest.
    expect(dropped).toEqual([...Array(WAITING_READINGS_MAX).fill(0), 1]);
    expect(linesWith(lines, "warn", "cannot list pods")).toHaveLength(1);
    expect(linesWith(lines, "warn", "cannot read a new pod")).toHaveLength(1);
    expect(linesWith(lines, "warn", "were dropped rather than published without them")).toHaveLength(1);

    // The pod leaves the node before it could ever be read: what waited goes with it.
    running = false;
    api.on(SUMMARY_PATH, () => summary({ time: at(100) }, []));
    nowMs = T0 + 200_000;
    expect((await collector.tick()).dropped).toBe(WAITING_READINGS_MAX);
    expect(sink.messages).toEqual([]);
    nowMs = T0 + 210_000;
    await collector.tick();
    expect(linesWith(lines, "info", "every pod's limits known again")).toHaveLength(1);
  });

  it("fetches the pod list early instead when more pods are missing than it reads one by one", async () => {
    const api = nodeApi();
    const many: PodSpecFigures[] = Array.from({ length: POD_GETS_PER_TICK_MAX + 1 }, (_, index) => ({
      namespace: "batch",
      name: `job-${index}`,
      uid: `u-job-${index}`,
      containers: [{ name: "work", limits: { memory: "64Mi" } }],
    }));
    let pods: PodSpecFigures[] = [];
    api.on(NODE_PODS_PATH, () => podList(pods));
    const time = at(0);
    api.on(SUMMARY_PATH, () =>
      summary(
        { time },
        many.map((pod) => ({
          namespace: pod.namespace,
          name: pod.name,
          uid: pod.uid,
          time,
          containers: [{ name: "work", time, workingSetBytes: MIB }],
        })),
      ),
    );
    let nowMs = T0;
    const { collector, sink } = nodeCollector(api, { now: () => nowMs });
    // The first list comes before the pods: the first tick reads as many as it may one by one
    // (404: not there yet); the next, 10 s later, lists early and has them all.
    await collector.tick();
    pods = many;
    nowMs = T0 + EARLY_REFRESH_MIN_MS;
    const tick = await collector.tick();

    expect(tick).toMatchObject({ published: many.length, waiting: 0 });
    expect(sink.messages.every((message) => message.mem_limit === 64 * MIB)).toBe(true);
    expect(api.calls.filter((path) => path === NODE_PODS_PATH)).toHaveLength(2);
    expect(api.calls.filter((path) => path.startsWith("/api/v1/namespaces/"))).toHaveLength(
      POD_GETS_PER_TICK_MAX,
    );
  });

  it("reads the node's kubelet directly when given one, never the node proxy, and falls back from its 403", async () => {
    const api = nodeApi();
    api.on(METRICS_PATH, () =>
      podMetricsList([
        {
          namespace: "shop",
          name: "web-7d9f",
          timestamp: at(20),
          containers: [{ name: "app", cpu: "1", memory: "1Mi" }],
        },
      ]),
    );
    const kubelet = new FakeApi();
    let forbidden = false;
    let seconds = 0;
    kubelet.on("/stats/summary", () => {
      if (forbidden) throw new HttpStatusError(403);
      return webSummary(seconds);
    });
    const { collector, sink, lines } = nodeCollector(api, { kubelet });

    expect(await collector.tick()).toMatchObject({ viaSummary: 1, published: 2, hostPublished: true });
    expect(sink.byId("shop/web-7d9f/app")[0]).toMatchObject({
      source: "kubelet_summary",
      mem_used: 64 * MIB,
    });
    expect(api.calls.some((path) => path.includes("/proxy/"))).toBe(false);
    // The kubelet refuses the token (no nodes/stats): metrics.k8s.io, as for a forbidden proxy.
    forbidden = true;
    seconds = 20;
    expect(await collector.tick()).toMatchObject({ viaSummary: 0, viaMetrics: 1 });
    expect(linesWith(lines, "warn", "the kubelet summary is not available")).toMatchObject([
      { status: 403, via: "kubelet" },
    ]);
    // Unreachable: the heartbeat's `connected` is the kubelet's, and the outage names it.
    kubelet.on("/stats/summary", () => {
      throw new Error("connect ECONNREFUSED 10.0.3.7:10250");
    });
    expect(await collector.tick()).toMatchObject({ apiReachable: false, failedNodes: 1 });
    expect(linesWith(lines, "warn", "the node's kubelet does not answer")).toHaveLength(1);
  });

  it("falls back to metrics.k8s.io when the node proxy is forbidden, marks the samples, and logs each switch once", async () => {
    const api = nodeApi();
    let summaryStatus: number | undefined = 403;
    let seconds = 0;
    api.on(SUMMARY_PATH, () => {
      if (summaryStatus !== undefined) throw new HttpStatusError(summaryStatus);
      return webSummary(seconds);
    });
    api.on(METRICS_PATH, () =>
      podMetricsList([
        {
          namespace: "shop",
          name: "web-7d9f",
          timestamp: at(seconds),
          containers: [
            { name: "app", cpu: "250000000n", memory: "65536Ki" },
            { name: "proxy", cpu: "1m", memory: "8Mi" },
          ],
        },
        // On another node: not this host's.
        {
          namespace: "shop",
          name: "db-0",
          timestamp: at(seconds),
          containers: [{ name: "pg", cpu: "1", memory: "1Gi" }],
        },
      ]),
    );
    const { collector, sink, hostSink, lines } = nodeCollector(api);

    const first = await collector.tick();
    expect(first).toMatchObject({ viaSummary: 0, viaMetrics: 1, published: 2, hostPublished: false });
    seconds = 15;
    summaryStatus = 503;
    await collector.tick();
    expect(sink.byId("shop/web-7d9f/app")).toHaveLength(2);
    expect(sink.byId("shop/web-7d9f/app")[0]).toEqual({
      v: 1,
      host: NODE,
      runtime: "kubernetes",
      container: { external_id: "shop/web-7d9f/app", name: "shop/web-7d9f/app" },
      ts: "2026-11-21T21:00:00.000Z",
      interval_ms: null,
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
    expect(sink.messages.some((message) => message.container.external_id.startsWith("shop/db-0"))).toBe(
      false,
    );
    expect(hostSink.messages).toEqual([]);
    const switched = linesWith(lines, "warn", "sampling this node's pods from metrics.k8s.io");
    expect(switched).toHaveLength(1);
    expect(switched[0]).toMatchObject({ node: NODE, status: 403 });

    seconds = 30;
    summaryStatus = undefined;
    await collector.tick();
    seconds = 40;
    await collector.tick();
    expect(sink.byId("shop/web-7d9f/app").map((message) => message.source)).toEqual([
      "metrics_api",
      "metrics_api",
      "kubelet_summary",
      "kubelet_summary",
    ]);
    expect(linesWith(lines, "info", "summary is available again")).toHaveLength(1);
    expect(hostSink.messages).toHaveLength(2);
  });

  it("skips a node whose kubelet the API server cannot reach, says so once with the error, and recovers", async () => {
    const api = nodeApi();
    let failing = true;
    api.on(SUMMARY_PATH, () => {
      // What kube-apiserver 1.20 answers when the node's kubelet refuses the connection.
      if (failing) throw new HttpStatusError(500);
      return webSummary(0);
    });
    const { collector, sink, lines } = nodeCollector(api);
    expect(await collector.tick()).toMatchObject({ failedNodes: 1, published: 0, apiReachable: true });
    await collector.tick();
    const trouble = linesWith(lines, "warn", "some nodes could not be sampled");
    expect(trouble).toHaveLength(1);
    expect(trouble[0]).toMatchObject({
      failed: 1,
      nodes: 1,
      example_node: NODE,
      example_error: "the server answered 500",
    });
    expect(linesWith(lines, "warn", "API server does not answer")).toEqual([]);
    failing = false;
    expect(await collector.tick()).toMatchObject({ failedNodes: 0, published: 2, apiReachable: true });
    expect(linesWith(lines, "info", "every node sampled again")).toHaveLength(1);
    expect(sink.messages).toHaveLength(2);
  });

  it("skips a node whose summary is forbidden when metrics.k8s.io is not there either, and says why", async () => {
    const api = nodeApi();
    api.on(SUMMARY_PATH, () => {
      throw new HttpStatusError(403);
    });
    const { collector, sink, lines } = nodeCollector(api);
    expect(await collector.tick()).toMatchObject({ viaMetrics: 0, failedNodes: 1, apiReachable: true });
    expect(sink.messages).toEqual([]);
    expect(linesWith(lines, "warn", "some nodes could not be sampled")[0]).toMatchObject({
      example_node: NODE,
      example_error: "the summary answered 403, and metrics.k8s.io: the server answered 404",
    });
    // No switch to metrics.k8s.io happened, so none is announced.
    expect(linesWith(lines, "warn", "from metrics.k8s.io")).toEqual([]);
  });

  it("tells the heartbeat when the API server itself does not answer", async () => {
    const api = new FakeApi();
    api.getJson = async () => {
      throw new Error("connect ECONNREFUSED 127.0.0.1:6443");
    };
    const { collector, lines } = nodeCollector(api);
    expect(await collector.tick()).toMatchObject({ apiReachable: false, failedNodes: 1 });
    await collector.tick();
    expect(collector.connected).toBe(false);
    expect(linesWith(lines, "warn", "API server does not answer")).toHaveLength(1);
  });

  it("samples what is valid in a malformed summary, logs the problems once, and never throws", async () => {
    const api = nodeApi();
    let answer: unknown = {
      node: "garbage",
      pods: [
        "not a pod",
        {
          podRef: { namespace: "shop", name: "web-7d9f", uid: "u-web" },
          containers: [
            {
              name: "app",
              cpu: { time: at(0), usageNanoCores: "fast" },
              memory: { time: at(0), workingSetBytes: -1 },
            },
            { name: "proxy" },
          ],
          network: { time: at(0), rxBytes: null },
        },
      ],
    };
    api.on(SUMMARY_PATH, () => answer);
    const { collector, sink, hostSink, lines } = nodeCollector(api);
    expect(await collector.tick()).toMatchObject({ published: 1, failedNodes: 0 });
    await collector.tick();
    expect(sink.messages[0]).toMatchObject({
      container: { external_id: "shop/web-7d9f/app" },
      cpu_percent: null,
      mem_used: null,
      net_rx_bytes: null,
    });
    const malformed = linesWith(lines, "warn", "summary is partly malformed");
    expect(malformed).toHaveLength(1);
    expect(malformed[0]?.problems).toEqual([
      "no `node` section",
      "pods[0] has no podRef namespace and name; skipped",
      "shop/web-7d9f containers[1]: proxy has no usable cpu.time or memory.time; skipped",
    ]);
    expect(hostSink.messages).toEqual([]);
    expect(linesWith(lines, "warn", "no host sample for the node")[0]).toMatchObject({
      reason: "the summary has no node section",
    });

    for (answer of [null, "<html>bad gateway</html>", [1, 2]]) {
      expect(await collector.tick()).toMatchObject({ failedNodes: 1, published: 0 });
    }
    expect(linesWith(lines, "warn", "summary is partly malformed").at(-1)?.problems).toEqual([
      "summary is not a JSON object",
    ]);
    answer = webSummary(60);
    expect(await collector.tick()).toMatchObject({ published: 2 });
    expect(linesWith(lines, "info", "summary is complete again")).toHaveLength(1);
  });

  it("gives a pod on the host's network no network figures (they would be the node's)", async () => {
    const api = nodeApi();
    api.on(NODE_PODS_PATH, () => podList([{ ...WEB, hostNetwork: true }]));
    api.on(SUMMARY_PATH, () => webSummary(0));
    const { collector, sink } = nodeCollector(api);
    await collector.tick();
    expect(sink.byId("shop/web-7d9f/app")[0]).toMatchObject({
      net_rx_bytes: null,
      net_tx_bytes: null,
      pids: 5,
    });
  });

  it("publishes no host sample without the node's load figures, and says why once", async () => {
    const api = nodeApi();
    api.on(SUMMARY_PATH, () => webSummary(0));
    const { collector, hostSink, lines } = nodeCollector(api, {
      hostStats: { sink: new RecordingHostSink(), readLoad: () => undefined },
    });
    await collector.tick();
    await collector.tick();
    expect(hostSink.messages).toEqual([]);
    expect(linesWith(lines, "warn", "no host sample for the node")).toHaveLength(1);
  });

  it("never overlaps ticks: a tick still running makes the next ones skip", async () => {
    const api = nodeApi();
    let summariesInFlight = 0;
    let maxSummariesInFlight = 0;
    let release: (() => void) | undefined;
    api.on(SUMMARY_PATH, async () => {
      summariesInFlight += 1;
      maxSummariesInFlight = Math.max(maxSummariesInFlight, summariesInFlight);
      // The first summary is answered only when the test says so.
      if (release === undefined) await new Promise<void>((resolve) => (release = resolve));
      summariesInFlight -= 1;
      return webSummary(0);
    });
    const clock = new ManualClock();
    const { collector, lines } = nodeCollector(api, { intervalMs: 30, timeoutMs: 1000, clock });
    const started = collector.start();
    await vi.waitFor(() => expect(release).toBeDefined(), { timeout: 10_000, interval: 5 });
    // Four ticks fall due while the first one waits for its summary.
    clock.advance(120);
    release?.();
    await started;
    clock.advance(30);
    await vi.waitFor(
      () => expect(linesWith(lines, "debug", "tick finished").length).toBeGreaterThanOrEqual(2),
      { timeout: 10_000, interval: 5 },
    );
    await collector.stop();
    expect(maxSummariesInFlight).toBe(1);
    // Once per long tick, not once per skipped one (a 120 ms tick skips three or four 30 ms ones).
    const skipping = linesWith(lines, "warn", "previous tick still running").length;
    const finished = linesWith(lines, "info", "long tick finished");
    expect(skipping).toBeGreaterThanOrEqual(1);
    expect(finished).toHaveLength(skipping);
  });
});

describe("the Kubernetes runtime across a cluster", () => {
  it("samples every node a few at a time, bounds each call, and publishes no host sample", async () => {
    const names = Array.from({ length: 6 }, (_, index) => `node-${index}`);
    const api = new FakeApi();
    api.on("/api/v1/nodes?resourceVersion=0", () =>
      nodeList(names.map((name) => nodeObject(name, { cpu: "2", memory: "4Gi" }))),
    );
    api.on("/api/v1/pods?resourceVersion=0", () =>
      podList(names.map((name) => ({ ...WEB, name: `web-${name}`, uid: `u-${name}`, nodeName: name }))),
    );
    for (const name of names) {
      api.on(`/api/v1/nodes/${name}/proxy/stats/summary`, async (signal) => {
        // One node's kubelet hangs: its call is abandoned at the deadline.
        if (name === "node-3") await sleep(10_000, undefined, { signal });
        await sleep(20);
        return summary({ time: at(0), usageNanoCores: 1 }, [
          {
            namespace: "shop",
            name: `web-${name}`,
            uid: `u-${name}`,
            time: at(0),
            containers: [{ name: "app", time: at(0), usageNanoCores: 250_000_000, workingSetBytes: MIB }],
          },
        ]);
      });
    }
    const { logger, lines } = captureLogger();
    const sink = new RecordingSink();
    const collector = kubernetesSampler({
      api,
      sink,
      host: "prod-cluster",
      nodeName: undefined,
      intervalMs: 60_000,
      concurrency: 2,
      timeoutMs: 200,
      specMaxAgeMs: 60_000,
      logger,
    });
    collectors.push(collector);

    const tick = await collector.tick();
    expect(tick).toMatchObject({
      nodes: 6,
      viaSummary: 5,
      failedNodes: 1,
      published: 5,
      hostPublished: false,
    });
    // Two summaries at a time (the node and pod lists come before them).
    expect(api.maxInFlight).toBe(2);
    expect(sink.messages.map((message) => message.host)).toEqual(Array(5).fill("prod-cluster"));
    expect(sink.byId("shop/web-node-0/app")[0]).toMatchObject({
      container: { name: "shop/web-node-0/app" },
      cpu_percent: 25,
      online_cpus: 2,
      mem_limit: 256 * MIB,
    });
    expect(linesWith(lines, "warn", "some nodes could not be sampled")[0]).toMatchObject({
      failed: 1,
      nodes: 6,
    });
  });
});
