// The CRI runtime of the collector: one ListContainerStats per tick gives every running
// container's CPU counter and memory
// working set; ListPodSandboxStats, where served, each pod's network counters (attributed to one
// container of the pod, as the Kubernetes runtime does), read beside the ticks, never waited for. Who each container is (namespace, pod,
// name, run) and its limits come from the sandbox and container lists and one ContainerStatus
// per new container, reused while every container the stats name is known, for at most
// `listMaxAgeMs`. CPU is over wall time; a new CRI container under the same pod container name
// is a new run (CPU and rates start over).
import { availableParallelism } from "node:os";
import type { Logger } from "@crowsnest/shared/agent";
import {
  type CriClient,
  type CriContainerStats,
  type CriPodSandbox,
  type CriPodSandboxStats,
  isUnimplemented,
} from "@crowsnest/shared/cri";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import type { ContainerLimits } from "../../core/container-limits.ts";
import type { ContainerReading, NetworkReading } from "../../core/container-reading.ts";
import type { SamplingTick, StatsRuntime } from "../../core/stats-runtime.ts";

export type CriStatsPort = Pick<
  CriClient,
  "negotiate" | "podSandboxes" | "containers" | "containerStatus" | "containerStats" | "podSandboxStats"
>;

export interface CriStatsRuntimeOptions {
  cri: CriStatsPort;
  timeoutMs: number;
  /** How long the lists are reused while the stats name no unknown container; 0: every tick. */
  listMaxAgeMs: number;
  logger: Logger;
  now?: () => number;
  /** The node's CPU count; the machine's by default. */
  onlineCpus?: number;
}

export interface CriTickDetail {
  criReachable: boolean;
  containers: number;
  /** Whether the lists were fetched this tick. */
  listed: boolean;
  /** Whether pod network counters were read (ListPodSandboxStats). */
  podNetwork: boolean;
}

/** What the collector keeps of one CRI container between ticks. */
interface KnownContainer {
  readonly busId: string;
  readonly podSandboxId: string;
  readonly name: string;
  readonly startedAtMs: number | null;
  readonly limits: ContainerLimits;
}

const NANOS_PER_MS = 1_000_000n;

/** Limits from the status's resources, or from containerd's verbose info (its `runtimeSpec`). */
function limitsFrom(
  resources: { cpuQuota: number; cpuPeriod: number; memoryLimitBytes: number } | undefined,
  info: Readonly<Record<string, string>>,
): ContainerLimits {
  let memory = resources?.memoryLimitBytes ?? 0;
  let quota = resources?.cpuQuota ?? 0;
  let period = resources?.cpuPeriod ?? 0;
  if ((memory <= 0 || quota <= 0) && info.info !== undefined) {
    try {
      const spec = (
        JSON.parse(info.info) as { runtimeSpec?: { linux?: { resources?: Record<string, unknown> } } }
      ).runtimeSpec?.linux?.resources as
        | { memory?: { limit?: unknown }; cpu?: { quota?: unknown; period?: unknown } }
        | undefined;
      if (memory <= 0 && typeof spec?.memory?.limit === "number") memory = spec.memory.limit;
      if (quota <= 0 && typeof spec?.cpu?.quota === "number" && typeof spec.cpu.period === "number") {
        quota = spec.cpu.quota;
        period = spec.cpu.period;
      }
    } catch {
      // Unreadable info: the limits the status gave, or none.
    }
  }
  return {
    memLimitBytes: memory > 0 ? memory : null,
    cpuLimitCores: quota > 0 && period > 0 ? quota / period : null,
  };
}

function networkOf(stats: CriPodSandboxStats | undefined): NetworkReading | null {
  const network = stats?.network;
  if (network === undefined || network.interfaces.length === 0) return null;
  let rx = 0;
  let tx = 0;
  let any = false;
  for (const entry of network.interfaces) {
    if (entry.name === "lo") continue;
    if (entry.rxBytes !== undefined) rx += entry.rxBytes;
    if (entry.txBytes !== undefined) tx += entry.txBytes;
    any = any || entry.rxBytes !== undefined || entry.txBytes !== undefined;
  }
  if (!any) return null;
  return { readAtMs: Number(network.timestampNano / NANOS_PER_MS), rxBytes: rx, txBytes: tx };
}

export class CriStatsRuntime implements StatsRuntime<CriTickDetail> {
  readonly runtime = "cri" as const;
  readonly repeatsReadings = false;
  readonly #cri: CriStatsPort;
  readonly #timeoutMs: number;
  readonly #listMaxAgeMs: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #onlineCpus: number;
  readonly #outage: OutageLog;
  #known = new Map<string, KnownContainer>();
  /**
   * Containers the last list showed not running: ListContainerStats names stopped ones too, and
   * they must not make every tick list again.
   */
  #notRunning = new Set<string>();
  #listedAtMs = Number.NEGATIVE_INFINITY;
  /** False once the runtime answered UNIMPLEMENTED: not asked again. */
  #podStatsServed = true;
  #podStatsCall: Promise<void> | undefined;
  #lastPodStats = new Map<string, CriPodSandboxStats>();
  #connected = false;

  constructor(options: CriStatsRuntimeOptions) {
    this.#cri = options.cri;
    this.#timeoutMs = options.timeoutMs;
    this.#listMaxAgeMs = options.listMaxAgeMs;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#onlineCpus = options.onlineCpus ?? availableParallelism();
    this.#outage = new OutageLog({
      logger: options.logger,
      failureMessage: "cannot read the CRI runtime's container stats; retrying every tick",
      recoveryMessage: "the CRI runtime answers again",
      now: this.#now,
    });
  }

  get connected(): boolean {
    return this.#connected;
  }

  #call<T>(what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(what, this.#timeoutMs, run);
  }

  /** Lists the sandboxes and containers; a ContainerStatus for each container not known yet. */
  async #list(tick: SamplingTick): Promise<void> {
    const [sandboxes, containers] = await Promise.all([
      this.#call("listing the pod sandboxes", (signal) => this.#cri.podSandboxes(signal)),
      this.#call("listing the containers", (signal) => this.#cri.containers(signal)),
    ]);
    const sandboxOf = new Map<string, CriPodSandbox>(sandboxes.map((sandbox) => [sandbox.id, sandbox]));
    const next = new Map<string, KnownContainer>();
    this.#notRunning = new Set(
      containers.filter((container) => container.state !== "running").map((container) => container.id),
    );
    const unknown = containers.filter((container) => {
      const known = this.#known.get(container.id);
      if (known !== undefined && container.state === "running") next.set(container.id, known);
      return known === undefined && container.state === "running" && sandboxOf.has(container.podSandboxId);
    });
    await forEachBounded(
      unknown,
      8,
      async (container) => {
        const sandbox = sandboxOf.get(container.podSandboxId) as CriPodSandbox;
        try {
          const status = await this.#call(`reading the status of container ${container.id}`, (signal) =>
            this.#cri.containerStatus(container.id, true, signal),
          );
          if (status === undefined) return;
          next.set(container.id, {
            busId: `${sandbox.namespace}/${sandbox.name}/${container.name}`,
            podSandboxId: container.podSandboxId,
            name: container.name,
            startedAtMs:
              status.startedAtNano === undefined ? null : Number(status.startedAtNano / NANOS_PER_MS),
            limits: limitsFrom(status.resources, status.info),
          });
        } catch (error) {
          this.#logger.debug({ err: error, container_id: container.id }, "cannot read a container's status");
        }
      },
      () => tick.stopping,
    );
    this.#known = next;
    this.#listedAtMs = this.#now();
  }

  /**
   * The pods' network counters as the last finished ListPodSandboxStats gave them (each with its
   * own read time), and the next call started unless one is in flight. The call is slow on
   * containerd 1.6 (seconds for one sandbox on a busy node): a tick never waits for it.
   */
  #podStats(): Map<string, CriPodSandboxStats> {
    if (this.#podStatsServed && this.#podStatsCall === undefined) {
      // A longer bound than the other calls: nothing waits for it, and it takes containerd 1.6
      // seconds per sandbox on a loaded node.
      this.#podStatsCall = withDeadline("reading the pod sandboxes' stats", this.#timeoutMs * 4, (signal) =>
        this.#cri.podSandboxStats(signal),
      )
        .then((stats) => {
          this.#lastPodStats = new Map(stats.map((entry) => [entry.id, entry]));
        })
        .catch((error: unknown) => {
          if (isUnimplemented(error)) {
            this.#podStatsServed = false;
            this.#logger.info("the CRI runtime has no ListPodSandboxStats: no network counters");
          } else {
            this.#logger.debug({ err: error }, "cannot read the pod sandboxes' stats");
          }
        })
        .finally(() => {
          this.#podStatsCall = undefined;
        });
    }
    return this.#lastPodStats;
  }

  async sample(tick: SamplingTick): Promise<CriTickDetail> {
    let stats: CriContainerStats[];
    let podStats: Map<string, CriPodSandboxStats>;
    let listed = false;
    try {
      await this.#call("asking the CRI runtime its version", (signal) => this.#cri.negotiate(signal));
      podStats = this.#podStats();
      stats = await this.#call("listing the container stats", (signal) => this.#cri.containerStats(signal));
      const stale = this.#now() - this.#listedAtMs >= this.#listMaxAgeMs;
      if (stale || stats.some((entry) => !this.#known.has(entry.id) && !this.#notRunning.has(entry.id))) {
        await this.#list(tick);
        listed = true;
      }
    } catch (error) {
      this.#connected = false;
      this.#outage.failed({ err: error });
      return { criReachable: false, containers: 0, listed, podNetwork: false };
    }
    this.#connected = true;
    this.#outage.succeeded();

    // The pod's network goes to one of its containers (the first by name), not to each.
    const networkHolder = new Map<string, string>();
    for (const entry of stats) {
      const known = this.#known.get(entry.id);
      if (known === undefined) continue;
      const holder = networkHolder.get(known.podSandboxId);
      const holderName = holder === undefined ? undefined : this.#known.get(holder)?.name;
      if (holderName === undefined || known.name < holderName)
        networkHolder.set(known.podSandboxId, entry.id);
    }
    const readings: ContainerReading[] = [];
    for (const entry of stats) {
      const known = this.#known.get(entry.id);
      if (known === undefined || entry.cpu === undefined) continue;
      const previous = tick.previous(known.busId);
      const readAtNano =
        entry.cpu.timestampNano > 0n ? entry.cpu.timestampNano : (entry.memory?.timestampNano ?? 0n);
      readings.push({
        container: { external_id: known.busId, name: known.busId },
        readAtMs: readAtNano > 0n ? Number(readAtNano / NANOS_PER_MS) : this.#now(),
        startedAtMs: known.startedAtMs,
        // Another CRI container under the same name is the pod container's next run.
        restarted: previous !== undefined && previous.startedAtMs !== known.startedAtMs,
        // From the counter's growth between this collector's own readings. The runtime's
        // usage_nano_cores is over the window since whichever client asked last (the kubelet
        // too), and 0 for a container's first sample: used only where no counter is reported.
        cpu: {
          clock: "wall",
          usageNs: entry.cpu.usageCoreNanoSeconds ?? null,
          nanoCores: entry.cpu.usageCoreNanoSeconds === undefined ? (entry.cpu.usageNanoCores ?? null) : null,
        },
        onlineCpus: this.#onlineCpus,
        memUsedBytes: entry.memory?.workingSetBytes ?? null,
        limits: known.limits,
        network:
          networkHolder.get(known.podSandboxId) === entry.id
            ? networkOf(podStats.get(known.podSandboxId))
            : null,
        blkReadBytes: null,
        blkWriteBytes: null,
        pids: null,
      });
    }
    const running = new Set(readings.map((reading) => reading.container.external_id));
    tick.retain((reading) => running.has(reading.container.external_id));
    await tick.publish(readings);
    return { criReachable: true, containers: readings.length, listed, podNetwork: podStats.size > 0 };
  }

  describe(detail: CriTickDetail): Record<string, unknown> {
    return {
      cri_reachable: detail.criReachable,
      containers: detail.containers,
      listed: detail.listed,
      pod_network: detail.podNetwork,
    };
  }
}
