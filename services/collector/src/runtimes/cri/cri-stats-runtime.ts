// The CRI runtime of the collector: every running container's CPU counter and memory working
// set each tick, from its cgroup files where they are readable (the fast path of the Docker and
// containerd runtimes, CgroupStatsReader: the cgroup is the runtime spec's, from one verbose
// ContainerStatus per new container) with one ListContainers to know which containers run, and
// from one ListContainerStats for the others, or for all without a file reader
// (CROWSNEST_STATS_SOURCE=api or no readable cgroup filesystem). ListContainerStats has
// containerd ask every shim, which reads the same files: the fast path costs the node a fraction
// of it (docs/benchmarks.md). ListPodSandboxStats, where served, gives each pod's network
// counters (attributed to one container of the pod, as the Kubernetes runtime does), read beside
// the ticks, never waited for. Who each container is (namespace, pod, name, run), its limits and
// its cgroup come from the sandbox and container lists and one verbose ContainerStatus per new
// container, reused while every running container is known, for at most `listMaxAgeMs`. CPU is
// over wall time on both paths, so a container that changes path keeps its figure; a new CRI
// container under the same pod container name is a new run (CPU and rates start over).
import { availableParallelism } from "node:os";
import type { Logger } from "@crowsnest/shared/agent";
import {
  type CriClient,
  type CriContainer,
  type CriContainerStats,
  type CriPodSandbox,
  type CriPodSandboxStats,
  isUnimplemented,
} from "@crowsnest/shared/cri";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import type { CgroupNaming, ContainerFileReader } from "../../cgroup/cgroup-stats-reader.ts";
import type { StatsReading } from "../../cgroup/stats-counters.ts";
import type { ContainerLimits } from "../../core/container-limits.ts";
import type { ContainerReading, NetworkReading } from "../../core/container-reading.ts";
import type { SamplingTick, StatsRuntime } from "../../core/stats-runtime.ts";
import { runcCgroupDirectory } from "../../procfs/cgroup-layout.ts";
import { FallbackNotices } from "../fallback-notices.ts";

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
  /** The cgroup fast path; undefined: every container through ListContainerStats. */
  files?: ContainerFileReader<CriProcess> | undefined;
  now?: () => number;
  /** The node's CPU count; the machine's by default. */
  onlineCpus?: number;
}

/** A container as the cgroup reader takes it: its cgroup directory and its first process. */
export interface CriProcess {
  /** Relative to each hierarchy's root, from the runtime spec's linux.cgroupsPath. */
  readonly cgroupPath: string;
  readonly pid: number | null;
}

/** Where a CRI container's cgroup is: its runtime spec says (verbose ContainerStatus). */
export const criCgroupNaming: CgroupNaming<CriProcess> = {
  cgroupCandidates: (_key, process) => [process.cgroupPath],
  // A pod's network is its sandbox's (ListPodSandboxStats), never one container's own.
  hasOwnNetwork: () => false,
  pid: (process) => process.pid,
  // The runtime lists its containers every tick on this path: no directories to watch.
  defaultParents: [],
};

export interface CriTickDetail {
  criReachable: boolean;
  containers: number;
  /** Whether the lists were fetched this tick. */
  listed: boolean;
  /** Whether pod network counters were read (ListPodSandboxStats). */
  podNetwork: boolean;
  /** Containers read from their cgroup files this tick. */
  viaFiles: number;
  /** Containers read through ListContainerStats this tick. */
  viaStats: number;
}

/** What the collector keeps of one CRI container between ticks. */
interface KnownContainer {
  readonly busId: string;
  readonly podSandboxId: string;
  readonly name: string;
  readonly startedAtMs: number | null;
  readonly limits: ContainerLimits;
  /** For the fast path; null when the runtime's verbose status names no cgroup (then ListContainerStats). */
  readonly process: CriProcess | null;
}

/** One container's counters this tick, before the pod's network is given to one of them. */
interface Counted {
  readonly id: string;
  readonly known: KnownContainer;
  readonly reading: Omit<ContainerReading, "network">;
}

const NANOS_PER_MS = 1_000_000n;

/** What the collector takes from containerd's verbose info (`info`: JSON with `pid` and `runtimeSpec`). */
interface VerboseInfo {
  readonly resources:
    | { memory?: { limit?: unknown }; cpu?: { quota?: unknown; period?: unknown } }
    | undefined;
  readonly cgroupsPath: string;
  readonly pid: number | null;
}

function verboseInfo(info: Readonly<Record<string, string>>): VerboseInfo | undefined {
  if (info.info === undefined) return undefined;
  try {
    const parsed = JSON.parse(info.info) as {
      pid?: unknown;
      runtimeSpec?: { linux?: { resources?: VerboseInfo["resources"]; cgroupsPath?: unknown } };
    };
    const linux = parsed.runtimeSpec?.linux;
    return {
      resources: linux?.resources,
      cgroupsPath: typeof linux?.cgroupsPath === "string" ? linux.cgroupsPath : "",
      pid: typeof parsed.pid === "number" && parsed.pid > 0 ? parsed.pid : null,
    };
  } catch {
    // Unreadable info: the limits the status gave, and no fast path for the container.
    return undefined;
  }
}

/** Limits from the status's resources, or from containerd's verbose info (its `runtimeSpec`). */
function limitsFrom(
  resources: { cpuQuota: number; cpuPeriod: number; memoryLimitBytes: number } | undefined,
  info: VerboseInfo | undefined,
): ContainerLimits {
  let memory = resources?.memoryLimitBytes ?? 0;
  let quota = resources?.cpuQuota ?? 0;
  let period = resources?.cpuPeriod ?? 0;
  const spec = info?.resources;
  if (memory <= 0 && typeof spec?.memory?.limit === "number") memory = spec.memory.limit;
  if (quota <= 0 && typeof spec?.cpu?.quota === "number" && typeof spec.cpu.period === "number") {
    quota = spec.cpu.quota;
    period = spec.cpu.period;
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
  readonly #files: ContainerFileReader<CriProcess> | undefined;
  readonly #notices: FallbackNotices;
  #known = new Map<string, KnownContainer>();
  /**
   * Containers the last list showed not running: ListContainerStats names stopped ones too, and
   * they must not make every tick list again.
   */
  #notRunning = new Set<string>();
  #listedAtMs = Number.NEGATIVE_INFINITY;
  /** How many times the lists were fetched: tells a tick's detail whether it listed. */
  #lists = 0;
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
    this.#files = options.files;
    this.#notices = new FallbackNotices({
      logger: options.logger,
      apiName: "the CRI's ListContainerStats",
      unreadable: "cgroup files",
    });
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

  /**
   * Lists the sandboxes and the containers (unless this tick has listed them); a verbose
   * ContainerStatus for each container not known yet.
   */
  async #list(tick: SamplingTick, listedContainers?: readonly CriContainer[]): Promise<void> {
    const [sandboxes, containers] = await Promise.all([
      this.#call("listing the pod sandboxes", (signal) => this.#cri.podSandboxes(signal)),
      listedContainers ?? this.#call("listing the containers", (signal) => this.#cri.containers(signal)),
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
          const info = verboseInfo(status.info);
          next.set(container.id, {
            busId: `${sandbox.namespace}/${sandbox.name}/${container.name}`,
            podSandboxId: container.podSandboxId,
            name: container.name,
            startedAtMs:
              status.startedAtNano === undefined ? null : Number(status.startedAtNano / NANOS_PER_MS),
            limits: limitsFrom(status.resources, info),
            process:
              info === undefined || info.cgroupsPath === ""
                ? null
                : { cgroupPath: runcCgroupDirectory(info.cgroupsPath), pid: info.pid },
          });
        } catch (error) {
          this.#logger.debug({ err: error, container_id: container.id }, "cannot read a container's status");
        }
      },
      () => tick.stopping,
    );
    this.#known = next;
    this.#listedAtMs = this.#now();
    this.#lists += 1;
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
    let podStats: Map<string, CriPodSandboxStats>;
    let counted: Counted[];
    let viaFiles = 0;
    const listsBefore = this.#lists;
    try {
      await this.#call("asking the CRI runtime its version", (signal) => this.#cri.negotiate(signal));
      podStats = this.#podStats();
      if (this.#files === undefined) {
        counted = await this.#viaStats(tick, undefined);
      } else {
        const fromFiles = await this.#viaFiles(tick, this.#files);
        viaFiles = fromFiles.counted.length;
        counted =
          fromFiles.rest.size === 0
            ? fromFiles.counted
            : [...fromFiles.counted, ...(await this.#viaStats(tick, fromFiles.rest))];
      }
    } catch (error) {
      this.#connected = false;
      this.#outage.failed({ err: error });
      return {
        criReachable: false,
        containers: 0,
        listed: this.#lists !== listsBefore,
        podNetwork: false,
        viaFiles: 0,
        viaStats: 0,
      };
    }
    this.#connected = true;
    this.#outage.succeeded();

    // The pod's network goes to one of its containers (the first by name), not to each.
    const networkHolder = new Map<string, Counted>();
    for (const entry of counted) {
      const holder = networkHolder.get(entry.known.podSandboxId);
      if (holder === undefined || entry.known.name < holder.known.name)
        networkHolder.set(entry.known.podSandboxId, entry);
    }
    const readings: ContainerReading[] = counted.map((entry) => ({
      ...entry.reading,
      network:
        networkHolder.get(entry.known.podSandboxId) === entry
          ? networkOf(podStats.get(entry.known.podSandboxId))
          : null,
    }));
    const running = new Set(readings.map((reading) => reading.container.external_id));
    tick.retain((reading) => running.has(reading.container.external_id));
    await tick.publish(readings);
    if (this.#files !== undefined) {
      this.#notices.endTick({
        containers: readings.length,
        viaApi: readings.length - viaFiles,
        failed: tick.counts.failed,
      });
    }
    return {
      criReachable: true,
      containers: readings.length,
      listed: this.#lists !== listsBefore,
      podNetwork: podStats.size > 0,
      viaFiles,
      viaStats: readings.length - viaFiles,
    };
  }

  /**
   * The fast path: one ListContainers tells which containers run (and lists again when one is
   * not known), then each known one is read from its cgroup files. Returns the containers read
   * and the ids of those whose files could not be read (or that have no cgroup known), for
   * ListContainerStats.
   */
  async #viaFiles(
    tick: SamplingTick,
    files: ContainerFileReader<CriProcess>,
  ): Promise<{ counted: Counted[]; rest: Set<string> }> {
    const containers = await this.#call("listing the containers", (signal) => this.#cri.containers(signal));
    const running = containers.filter((container) => container.state === "running");
    const stale = this.#now() - this.#listedAtMs >= this.#listMaxAgeMs;
    if (stale || running.some((container) => !this.#known.has(container.id))) {
      await this.#list(tick, containers);
    }
    files.retainOnly(new Set(running.map((container) => container.id)));
    const begun = files.beginTick();
    const counted: Counted[] = [];
    const rest = new Set<string>();
    for (const { id } of running) {
      const known = this.#known.get(id);
      if (known === undefined) continue;
      if (!begun.ok || known.process === null) {
        rest.add(id);
        continue;
      }
      const result = files.read(id, known.process);
      if (!result.ok) {
        this.#logger.debug(
          { container_id: known.busId, reason: result.detail },
          "cannot read a container's cgroup files; through ListContainerStats",
        );
        rest.add(id);
        continue;
      }
      // Its process exited since the list: an empty cgroup, whose frozen counters are no sample.
      if (result.reading.pids === 0) continue;
      counted.push({ id, known, reading: this.#fromFiles(known, result.reading, tick) });
    }
    return { counted, rest };
  }

  /** ListContainerStats: every running container, or only those in `only` (the fast path's rest). */
  async #viaStats(tick: SamplingTick, only: ReadonlySet<string> | undefined): Promise<Counted[]> {
    const stats = await this.#call("listing the container stats", (signal) =>
      this.#cri.containerStats(signal),
    );
    if (only === undefined) {
      const stale = this.#now() - this.#listedAtMs >= this.#listMaxAgeMs;
      if (stale || stats.some((entry) => !this.#known.has(entry.id) && !this.#notRunning.has(entry.id))) {
        await this.#list(tick);
      }
    }
    const counted: Counted[] = [];
    for (const entry of stats) {
      const known = this.#known.get(entry.id);
      if (known === undefined || entry.cpu === undefined) continue;
      if (only !== undefined && !only.has(entry.id)) continue;
      counted.push({ id: entry.id, known, reading: this.#fromStats(known, entry, tick) });
    }
    return counted;
  }

  #fromStats(known: KnownContainer, entry: CriContainerStats, tick: SamplingTick): Counted["reading"] {
    const cpu = entry.cpu;
    const readAtNano =
      (cpu?.timestampNano ?? 0n) > 0n ? (cpu?.timestampNano ?? 0n) : (entry.memory?.timestampNano ?? 0n);
    return {
      container: { external_id: known.busId, name: known.busId },
      readAtMs: readAtNano > 0n ? Number(readAtNano / NANOS_PER_MS) : this.#now(),
      startedAtMs: known.startedAtMs,
      restarted: this.#restarted(known, tick),
      // From the counter's growth between this collector's own readings. The runtime's
      // usage_nano_cores is over the window since whichever client asked last (the kubelet
      // too), and 0 for a container's first sample: used only where no counter is reported.
      cpu: {
        clock: "wall",
        usageNs: cpu?.usageCoreNanoSeconds ?? null,
        nanoCores: cpu?.usageCoreNanoSeconds === undefined ? (cpu?.usageNanoCores ?? null) : null,
      },
      onlineCpus: this.#onlineCpus,
      memUsedBytes: entry.memory?.workingSetBytes ?? null,
      limits: known.limits,
      blkReadBytes: null,
      blkWriteBytes: null,
      pids: null,
    };
  }

  /** The same counters from the files containerd reads for ListContainerStats (cpuacct.usage, the working set). */
  #fromFiles(known: KnownContainer, reading: StatsReading, tick: SamplingTick): Counted["reading"] {
    return {
      container: { external_id: known.busId, name: known.busId },
      readAtMs: reading.readAtMs,
      startedAtMs: known.startedAtMs,
      restarted: this.#restarted(known, tick),
      cpu: { clock: "wall", usageNs: reading.cpuTotalNs, nanoCores: null },
      onlineCpus: this.#onlineCpus,
      memUsedBytes: reading.memUsedBytes,
      limits: known.limits,
      blkReadBytes: reading.blkReadBytes,
      blkWriteBytes: reading.blkWriteBytes,
      pids: reading.pids,
    };
  }

  /** Another CRI container under the same name is the pod container's next run. */
  #restarted(known: KnownContainer, tick: SamplingTick): boolean {
    const previous = tick.previous(known.busId);
    return previous !== undefined && previous.startedAtMs !== known.startedAtMs;
  }

  describe(detail: CriTickDetail): Record<string, unknown> {
    return {
      cri_reachable: detail.criReachable,
      containers: detail.containers,
      listed: detail.listed,
      pod_network: detail.podNetwork,
      via_files: detail.viaFiles,
      via_stats: detail.viaStats,
    };
  }
}
