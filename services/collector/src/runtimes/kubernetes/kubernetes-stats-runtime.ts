// The Kubernetes runtime of the collector: reads every container of one node (DaemonSet) or of
// every node (cluster-wide) from the kubelet's Summary API — the node's own kubelet read directly
// (one node, `nodes/stats`), or through the API server's node proxy (`nodes/proxy`) — and hands
// one reading per container per tick to the sampling core (core/stats-sampler.ts), which
// publishes it; in node mode also one host message from the summary's node section. Where a node's summary is not available (the proxy forbidden, missing
// or unavailable: 403/404/503) its pods are sampled from metrics.k8s.io instead, CPU and memory
// only, each sample marked with its source and every switch logged once.
//
// A container is published only once its pod's spec is known: a null limit means "unlimited" on
// the bus, so the readings of a pod the collector cannot read yet wait (see waiting-pods.ts).
//
// Nodes are fetched a few at a time with a deadline each; a node that cannot be read is skipped
// for the tick.
import type { Logger } from "@crowsnest/shared/agent";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import { UNLIMITED } from "../../core/container-limits.ts";
import type { ContainerReading, StatsSource } from "../../core/container-reading.ts";
import type { SamplingTick, StatsRuntime } from "../../core/stats-runtime.ts";
import { ClusterFacts } from "./cluster-facts.ts";
import type { KubernetesContainerReading } from "./container-reading.ts";
import { httpStatusOf, type KubernetesApiPort } from "./kubernetes-api-port.ts";
import { containerReading } from "./kubernetes-reading.ts";
import { readPodMetricsList } from "./metrics-api-reading.ts";
import { buildNodeHostSample, type NodeLoadReading } from "./node-host-sample.ts";
import type { PodFacts } from "./pod-facts.ts";
import { readSummary, type SummaryNode, type SummaryPod } from "./summary-reading.ts";
import { WaitingPods, keyOf as waitingKey } from "./waiting-pods.ts";

/** The answers of the kubelet or the node proxy that mean "no summary here, ask metrics.k8s.io". */
const FALLBACK_STATUSES: ReadonlySet<number> = new Set([403, 404, 503]);

export interface KubernetesStatsRuntimeOptions {
  api: KubernetesApiPort;
  /**
   * One node only: that node's kubelet, whose `/stats/summary` is read directly. Undefined: the
   * summaries are read through the API server's node proxy.
   */
  kubelet?: KubernetesApiPort | undefined;
  /** The host name the node's host samples carry. */
  host: string;
  /** The one node to sample (DaemonSet); undefined: every node of the cluster. */
  nodeName: string | undefined;
  /** At most this many nodes' summaries are fetched at once. */
  concurrency: number;
  /** Bound on each API call. */
  timeoutMs: number;
  /** How long pod and node lists (limits, capacity) are reused. */
  specMaxAgeMs: number;
  /**
   * Node mode only: reads the node's load averages and uptime (which the summary lacks) for the
   * node's host samples. Undefined: no host samples.
   */
  readNodeLoad?: (() => NodeLoadReading | undefined) | undefined;
  logger: Logger;
  now?: () => number;
}

/** What one tick did on the Kubernetes side; the core adds its counts of outcomes. */
export interface KubernetesTickDetail {
  /** Whether any call to the API server was answered this tick. */
  apiReachable: boolean;
  nodes: number;
  /** Nodes read from their summary. */
  viaSummary: number;
  /** Nodes read from metrics.k8s.io. */
  viaMetrics: number;
  /** Nodes that could not be read at all. */
  failedNodes: number;
  containers: number;
  /** Containers whose reading waits for their pod's spec (limits) to be read. */
  waiting: number;
  /** Waiting readings given up: too many for one pod, or the pod gone before it could be read. */
  dropped: number;
  hostPublished: boolean;
}

/** One container ready to publish. */
interface Pending {
  node: string;
  namespace: string;
  pod: string;
  container: string;
  reading: KubernetesContainerReading;
  facts: PodFacts;
  source: StatsSource;
}

type NodeResult =
  | { kind: "summary"; node: string; pods: SummaryPod[]; nodeSection: SummaryNode | null }
  | { kind: "fallback"; node: string; status: number }
  /** apiAnswered: the API server answered (with an error status, e.g. a kubelet it cannot reach). */
  | { kind: "failed"; node: string; apiAnswered: boolean; detail: string };

export class KubernetesStatsRuntime implements StatsRuntime<KubernetesTickDetail> {
  readonly runtime = "kubernetes";
  // The kubelet reads containers on its own housekeeping schedule, not when asked.
  readonly repeatsReadings = true;
  readonly #options: KubernetesStatsRuntimeOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #facts: ClusterFacts;
  readonly #previousNode = new Map<string, SummaryNode>();
  /** Which API each node was last read from, so each switch is logged once. */
  readonly #nodeSources = new Map<string, StatsSource>();
  /** The summary problems last logged per node, so the same ones are not logged every tick. */
  readonly #nodeProblems = new Map<string, string>();
  readonly #apiOutage: OutageLog;
  readonly #nodeTrouble: OutageLog;
  readonly #hostTrouble: OutageLog;
  readonly #waiting = new WaitingPods();
  readonly #waitingTrouble: OutageLog;
  #apiReachable = false;

  constructor(options: KubernetesStatsRuntimeOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#facts = new ClusterFacts({
      api: options.api,
      nodeName: options.nodeName,
      timeoutMs: options.timeoutMs,
      maxAgeMs: options.specMaxAgeMs,
      logger: options.logger,
      now: this.#now,
    });
    // What answers the summary requests: the node's kubelet, or the API server's node proxy.
    const summaryServer = options.kubelet === undefined ? "the Kubernetes API server" : "the node's kubelet";
    this.#apiOutage = new OutageLog({
      logger: options.logger,
      failureMessage: `${summaryServer} does not answer; retrying every tick`,
      recoveryMessage: `${summaryServer} answers again`,
    });
    this.#nodeTrouble = new OutageLog({
      logger: options.logger,
      failureMessage:
        "some nodes could not be sampled and were skipped (one example here, every one at debug level)",
      recoveryMessage: "every node sampled again",
    });
    this.#waitingTrouble = new OutageLog({
      logger: options.logger,
      failureMessage:
        "samples of pods whose limits could not be read were dropped rather than published without them",
      recoveryMessage: "every pod's limits known again",
    });
    this.#hostTrouble = new OutageLog({
      logger: options.logger,
      failureMessage: "no host sample for the node",
      recoveryMessage: "host samples for the node again",
    });
  }

  /** Whether the last tick's summary requests were answered (kubelet or API server): the heartbeat's `connected`. */
  get connected(): boolean {
    return this.#apiReachable;
  }

  describe(detail: KubernetesTickDetail): Record<string, unknown> {
    return {
      api_reachable: detail.apiReachable,
      nodes: detail.nodes,
      via_summary: detail.viaSummary,
      via_metrics: detail.viaMetrics,
      failed_nodes: detail.failedNodes,
      containers: detail.containers,
      waiting: detail.waiting,
      dropped: detail.dropped,
      host_published: detail.hostPublished,
    };
  }

  /** One pass over every node. */
  async sample(tick: SamplingTick): Promise<KubernetesTickDetail> {
    const summary: KubernetesTickDetail = {
      apiReachable: false,
      nodes: 0,
      viaSummary: 0,
      viaMetrics: 0,
      failedNodes: 0,
      containers: 0,
      waiting: 0,
      dropped: 0,
      hostPublished: false,
    };
    await this.#facts.refreshStale();
    const nodes = this.#facts.nodeNames() ?? [];
    summary.nodes = nodes.length;

    const results: NodeResult[] = [];
    await forEachBounded(
      nodes,
      this.#options.concurrency,
      async (node) => {
        results.push(await this.#fetchSummary(node));
      },
      () => tick.stopping,
    );
    const answered = results.some((result) => result.kind !== "failed" || result.apiAnswered);
    summary.apiReachable = answered;
    this.#apiReachable = answered;

    const pending: Pending[] = [];
    const read = new Set<string>();
    const summaries = results.filter((result) => result.kind === "summary");
    await this.#facts.fetchMissing(
      summaries.flatMap((result) => result.pods.filter((pod) => this.#podFacts(pod) === undefined)),
    );
    /** The pods of the summaries read, as WaitingPods keys them. */
    const reported = new Set<string>();
    for (const result of summaries) {
      read.add(result.node);
      summary.viaSummary += 1;
      this.#noteSource(result.node, "kubelet_summary");
      for (const pod of result.pods) {
        reported.add(waitingKey(pod));
        const facts = this.#podFacts(pod);
        if (facts === undefined) {
          summary.dropped += this.#waiting.hold(result.node, pod);
          summary.waiting += pod.containers.length;
          continue;
        }
        for (const earlier of this.#waiting.release(pod)) {
          pending.push(...this.#fromSummaryPod(result.node, earlier, facts));
        }
        pending.push(...this.#fromSummaryPod(result.node, pod, facts));
      }
    }
    const fallbacks = results.filter((result) => result.kind === "fallback");
    /** One failed node and why, for the warning that starts an episode of failures. */
    let example: { node: string; error: string } | undefined;
    for (const result of results) {
      if (result.kind === "failed") {
        summary.failedNodes += 1;
        example ??= { node: result.node, error: result.detail };
      }
    }
    if (fallbacks.length > 0) {
      const fromMetrics = await this.#fromMetricsApi(fallbacks);
      if (fromMetrics.ok) {
        for (const { node } of fallbacks) {
          read.add(node);
          summary.viaMetrics += 1;
        }
        pending.push(...fromMetrics.pending);
      } else {
        summary.failedNodes += fallbacks.length;
        const [first] = fallbacks;
        if (first !== undefined) {
          example ??= {
            node: first.node,
            error: `the summary answered ${first.status}, and metrics.k8s.io: ${fromMetrics.detail}`,
          };
        }
      }
    }

    if (nodes.length === 0 || !answered) {
      this.#apiOutage.failed({ nodes: nodes.length });
    } else {
      this.#apiOutage.succeeded();
    }
    if (summary.failedNodes > 0) {
      this.#nodeTrouble.failed({
        failed: summary.failedNodes,
        nodes: nodes.length,
        ...(example === undefined ? {} : { example_node: example.node, example_error: example.error }),
      });
    } else if (nodes.length > 0) {
      this.#nodeTrouble.succeeded();
    }

    this.#forgetGone(tick, nodes, read, pending);
    summary.dropped += this.#waiting.forgetGone(
      new Set(nodes),
      new Set(summaries.map((result) => result.node)),
      reported,
    );
    if (summary.dropped > 0) this.#waitingTrouble.failed({ dropped: summary.dropped });
    else if (this.#waiting.size === 0) this.#waitingTrouble.succeeded();
    summary.containers = pending.length;
    await tick.publish(pending.map((container) => this.#reading(container)));

    for (const result of summaries) {
      if (
        result.node === this.#options.nodeName &&
        this.#publishHost(tick, result.node, result.nodeSection)
      ) {
        summary.hostPublished = true;
      }
    }
    return summary;
  }

  async #fetchSummary(node: string): Promise<NodeResult> {
    const log = () => this.#logger.child({ node });
    let raw: unknown;
    const { kubelet } = this.#options;
    const sentAtMs = this.#now();
    try {
      raw = await withDeadline(`summary of node ${node}`, this.#options.timeoutMs, (signal) =>
        kubelet === undefined
          ? this.#options.api.getJson(`/api/v1/nodes/${encodeURIComponent(node)}/proxy/stats/summary`, {
              signal,
            })
          : kubelet.getJson("/stats/summary", { signal }),
      );
    } catch (error) {
      const status = httpStatusOf(error);
      if (status !== undefined && FALLBACK_STATUSES.has(status)) return { kind: "fallback", node, status };
      log().debug({ err: error }, "summary could not be fetched; node skipped this tick");
      return { kind: "failed", node, apiAnswered: status !== undefined, detail: (error as Error).message };
    }
    const read = readSummary(raw, { sentAtMs, answeredAtMs: this.#now() });
    if (!read.ok) {
      this.#noteProblems(node, [read.detail]);
      return { kind: "failed", node, apiAnswered: true, detail: read.detail };
    }
    this.#noteProblems(node, read.reading.problems);
    return { kind: "summary", node, pods: read.reading.pods, nodeSection: read.reading.node };
  }

  /** Logs a node's summary problems when they change (so once, not every tick), and when they end. */
  #noteProblems(node: string, problems: readonly string[]): void {
    const key = problems.join("\n");
    const last = this.#nodeProblems.get(node) ?? "";
    if (key === last) return;
    if (key === "") {
      this.#nodeProblems.delete(node);
      this.#logger.info({ node }, "the node's summary is complete again");
      return;
    }
    this.#nodeProblems.set(node, key);
    this.#logger.warn(
      { node, problems: problems.slice(0, 10), problem_count: problems.length },
      "the node's summary is partly malformed; what is valid is sampled, the rest skipped",
    );
  }

  /** Logs once each time a node's figures start coming from another API. */
  #noteSource(node: string, source: StatsSource, status?: number): void {
    const last = this.#nodeSources.get(node);
    if (last === source) return;
    this.#nodeSources.set(node, source);
    if (source === "metrics_api") {
      this.#logger.warn(
        { node, status, via: this.#options.kubelet === undefined ? "node_proxy" : "kubelet" },
        "the kubelet summary is not available; sampling this node's pods from metrics.k8s.io (CPU and memory only, marked source=metrics_api)",
      );
    } else if (last !== undefined) {
      this.#logger.info({ node }, "the kubelet summary is available again; sampling the node from it");
    }
  }

  #podFacts(pod: SummaryPod): PodFacts | undefined {
    return this.#facts.pod(pod.namespace, pod.name, pod.uid);
  }

  #fromSummaryPod(node: string, pod: SummaryPod, facts: PodFacts): Pending[] {
    // The pod's network and process count are the pod's, not one container's: they go to the
    // first of its containers in spec order (the main one, by convention) and to no other, so
    // that summing containers gives the pod's figures once.
    const order = (name: string) => {
      const index = facts.containerNames.indexOf(name);
      return index === -1 ? Number.MAX_SAFE_INTEGER : index;
    };
    const containers = [...pod.containers].sort(
      (a, b) => order(a.name) - order(b.name) || a.name.localeCompare(b.name),
    );
    // A pod on the host's network has no network of its own (as Docker's `--network host`): null.
    const network = facts.hostNetwork ? null : pod.network;
    return containers.map((container, index) => ({
      node,
      namespace: pod.namespace,
      pod: pod.name,
      container: container.name,
      facts,
      source: "kubelet_summary" as const,
      reading: {
        readAtMs: container.readAtMs,
        startedAtMs: container.startedAtMs,
        usageNanoCores: container.usageNanoCores,
        usageCoreNanoSeconds: container.usageCoreNanoSeconds,
        workingSetBytes: container.workingSetBytes,
        network: index === 0 ? network : null,
        pids: index === 0 ? pod.processCount : null,
      },
    }));
  }

  /** The containers of the fallback nodes' pods from metrics.k8s.io, or why it cannot be read. */
  async #fromMetricsApi(
    fallbacks: readonly { node: string; status: number }[],
  ): Promise<{ ok: true; pending: Pending[] } | { ok: false; detail: string }> {
    let raw: unknown;
    try {
      raw = await withDeadline("pod metrics", this.#options.timeoutMs, (signal) =>
        this.#options.api.getJson("/apis/metrics.k8s.io/v1beta1/pods", { signal }),
      );
    } catch (error) {
      this.#logger.debug(
        { err: error, nodes: fallbacks.map((fallback) => fallback.node) },
        "neither the summary nor metrics.k8s.io could be read; nodes skipped this tick",
      );
      return { ok: false, detail: (error as Error).message };
    }
    const read = readPodMetricsList(raw);
    if (!read.ok) {
      this.#logger.debug({ detail: read.detail }, "metrics.k8s.io answer unusable; nodes skipped this tick");
      return { ok: false, detail: read.detail };
    }
    if (read.problems.length > 0) {
      this.#logger.debug({ problems: read.problems.slice(0, 10) }, "some pod metrics skipped");
    }
    for (const { node, status } of fallbacks) this.#noteSource(node, "metrics_api", status);
    // Pod metrics do not say where a pod runs: the pod list does. Pods it lacks are left out
    // rather than claimed for a node they may not be on.
    const nodeOf = new Map(this.#facts.podsOn(new Set(fallbacks.map((fallback) => fallback.node))));
    const pending: Pending[] = [];
    for (const pod of read.pods) {
      const facts = nodeOf.get(`${pod.namespace}/${pod.name}`);
      if (facts === undefined || facts.nodeName === null) continue;
      for (const container of pod.containers) {
        pending.push({
          node: facts.nodeName,
          namespace: pod.namespace,
          pod: pod.name,
          container: container.name,
          facts,
          source: "metrics_api",
          reading: {
            readAtMs: pod.readAtMs,
            startedAtMs: null,
            usageNanoCores: container.usageNanoCores,
            usageCoreNanoSeconds: null,
            workingSetBytes: container.workingSetBytes,
            network: null,
            pids: null,
          },
        });
      }
    }
    return { ok: true, pending };
  }

  /**
   * Containers gone from a node that was read this tick take their previous readings with them;
   * nodes gone from the cluster take everything remembered about them.
   */
  #forgetGone(
    tick: SamplingTick,
    nodes: readonly string[],
    readNodes: ReadonlySet<string>,
    pending: readonly Pending[],
  ): void {
    const current = new Set(nodes);
    const seen = new Set(pending.map((container) => externalId(container)));
    tick.retain(({ node, container }) => {
      if (node === undefined) return false;
      return current.has(node) && (!readNodes.has(node) || seen.has(container.external_id));
    });
    for (const perNode of [this.#previousNode, this.#nodeSources, this.#nodeProblems]) {
      for (const node of perNode.keys()) if (!current.has(node)) perNode.delete(node);
    }
  }

  #reading(container: Pending): ContainerReading {
    const id = externalId(container);
    return containerReading({
      container: { external_id: id, name: id },
      node: container.node,
      reading: container.reading,
      // A container the spec does not list is an ephemeral (debug) container, which may have no
      // resources: unlimited.
      limits: container.facts.limits.get(container.container) ?? UNLIMITED,
      onlineCpus: this.#facts.node(container.node)?.onlineCpus ?? null,
      source: container.source,
    });
  }

  /** The node's host sample from the summary's node section; whether it was handed to the sink. */
  #publishHost(tick: SamplingTick, node: string, section: SummaryNode | null): boolean {
    const readLoad = this.#options.readNodeLoad;
    if (readLoad === undefined) return false;
    if (section === null) {
      this.#hostTrouble.failed({ node, reason: "the summary has no node section" });
      return false;
    }
    const previous = this.#previousNode.get(node);
    if (previous?.readAtMs != null && section.readAtMs !== null && section.readAtMs <= previous.readAtMs) {
      return false;
    }
    const load = readLoad();
    if (load === undefined) {
      this.#hostTrouble.failed({ node, reason: "the node's load averages and uptime cannot be read" });
      return false;
    }
    const built = buildNodeHostSample({
      host: this.#options.host,
      node: section,
      previous,
      capacity: this.#facts.node(node),
      load,
    });
    if (!built.ok) {
      this.#hostTrouble.failed({ node, reason: built.detail });
      return false;
    }
    this.#previousNode.set(node, section);
    if (!tick.publishHost(built.message)) return false;
    this.#hostTrouble.succeeded({ node });
    return true;
  }
}

/** `namespace/pod/container`: the container's id on the bus. */
function externalId(container: { namespace: string; pod: string; container: string }): string {
  return `${container.namespace}/${container.pod}/${container.container}`;
}
