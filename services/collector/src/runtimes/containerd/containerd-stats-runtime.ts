// The containerd runtime of the collector: turns every running task of the reported namespaces
// into one reading per tick for the sampling core (core/stats-sampler.ts), which publishes it.
//
// A tick lists the namespaces (unless they are configured) and each one's tasks: small answers,
// no OCI specs. With a file reader (the cgroup fast path) even that is skipped while the cgroup
// directories under the namespaces stay the same and the list is younger than `listMaxAgeMs`:
// an unchanged host then costs containerd nothing per tick. A container that stopped without its
// cgroup going away (a task exited and not yet deleted has an empty cgroup), or whose files or
// Metrics entry are missing, makes the next tick list again. The container records (name,
// limits, cgroup path from the spec) are listed only when a task appears that they lack, and at
// the latest every `listMaxAgeMs` (a label or limit changed by `Containers.Update` shows within
// it). Every running container is then read from its cgroup files in one synchronous pass; those
// whose files cannot be read, and every container without a file reader, are read through
// `Tasks.Metrics`, one call per namespace for all of them. Network counters come from
// /proc/<pid>/net/dev of the task's process either way (Metrics has none).
//
// CPU is measured over wall time on both paths, so a container that changes path between two
// ticks keeps its CPU figure. A task with another PID than last tick is a new run of the container.

import { basename, dirname, join } from "node:path";
import { DEFAULT_EXCLUDED_CONTAINERD_NAMESPACES, type Logger } from "@crowsnest/shared/agent";
import type { ContainerdClient, ContainerdTask } from "@crowsnest/shared/containerd";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import type { ContainerFileReader } from "../../cgroup/cgroup-stats-reader.ts";
import { type KernelFile, kernelFile, regeneratesOnRead } from "../../cgroup/kernel-file.ts";
import { ProcessNetworks } from "../../cgroup/process-network.ts";
import type { StatsReading } from "../../cgroup/stats-counters.ts";
import type { ContainerReading } from "../../core/container-reading.ts";
import type { SamplingTick, Skipped, StatsRuntime } from "../../core/stats-runtime.ts";
import { parseProcStat } from "../../procfs/proc-parsers.ts";
import { FallbackNotices } from "../fallback-notices.ts";
import {
  type ContainerdProcess,
  type ContainerdRecord,
  containerdReading,
  containerdRecord,
  metricsReading,
} from "./containerd-reading.ts";

/** The part of the containerd client the collector uses; tests pass plain objects. */
export type ContainerdPort = Pick<ContainerdClient, "namespaces" | "containers" | "tasks" | "metrics">;

export interface ContainerdStatsRuntimeOptions {
  containerd: ContainerdPort;
  /**
   * The namespaces to report; undefined: every namespace containerd lists except those other
   * runtimes report (DEFAULT_EXCLUDED_CONTAINERD_NAMESPACES: moby, k8s.io).
   */
  namespaces: readonly string[] | undefined;
  /** Bound on each containerd call. */
  timeoutMs: number;
  /** The cgroup fast path; undefined: every container is read through `Tasks.Metrics`. */
  files?: ContainerFileReader<ContainerdProcess> | undefined;
  /** Where the host's /proc is visible: the CPU count and the network counters of containers read through Metrics. */
  procRoot: string;
  /**
   * How long a task list is reused while the cgroups under the namespaces stay the same (with a
   * file reader), and container records while no new task appears; defaults to 60 s. 0: both
   * are fetched every tick.
   */
  listMaxAgeMs?: number;
  /** The clock of record ages; Date.now by default. */
  now?: () => number;
  logger: Logger;
}

const DEFAULT_LIST_MAX_AGE_MS = 60_000;
/** How long a cgroup under a namespace's directory without a task of its name makes every tick list again. */
const UNLISTED_CGROUP_REFETCH_MS = 30_000;

/** What one tick did on the containerd side; the core adds its counts of outcomes. */
export interface ContainerdTickDetail {
  /** Whether the namespaces and their tasks could be listed. */
  containerdReachable: boolean;
  namespaces: number;
  /** Running tasks. */
  containers: number;
  /** Containers read from their cgroup files this tick. */
  viaFiles: number;
  /** Containers read through `Tasks.Metrics` this tick (all of them without a file reader). */
  viaMetrics: number;
  /** Whether this tick listed the tasks (false: the previous list still held). */
  listed: boolean;
}

/** A running task of a known container, as this tick found it. */
interface RunningContainer extends ContainerdProcess {
  /** Its task has another PID than last tick: a new run. */
  readonly restarted: boolean;
}

/** The namespaces' tasks as last listed, and the cgroup directories seen just before. */
interface TaskList {
  readonly namespaces: readonly { namespace: string; tasks: ContainerdTask[] }[];
  readonly fetchedAtMs: number;
  /** The cgroup directories whose entries were read just before the list. */
  readonly watched: readonly string[];
  /** Their entries then; undefined when they could not be read. */
  readonly cgroups: ReadonlySet<string> | undefined;
}

interface NamespaceRecords {
  readonly byId: ReadonlyMap<string, ContainerdRecord>;
  readonly fetchedAtMs: number;
}

type ReadPath = "cgroup files" | "Metrics";

export class ContainerdStatsRuntime implements StatsRuntime<ContainerdTickDetail> {
  readonly runtime = "containerd";
  readonly repeatsReadings = false;
  readonly #options: ContainerdStatsRuntimeOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #excluded: ReadonlySet<string>;
  readonly #records = new Map<string, NamespaceRecords>();
  /** Each running container's task PID at the last tick, by bus id. */
  readonly #pids = new Map<string, number>();
  /** Which way each container was read last, so a change of way is logged once. */
  readonly #paths = new Map<string, ReadPath>();
  readonly #networks: ProcessNetworks;
  readonly #procStat: KernelFile;
  readonly #unreachable: OutageLog;
  readonly #notices: FallbackNotices;
  #reachable = false;
  #lastList: TaskList | undefined;
  /** A container stopped or vanished without the cgroups telling: list again next tick. */
  #listStale = false;
  /** Cgroups under a namespace's directory that the last list had no task for, with when each was first seen. */
  readonly #unlistedSinceMs = new Map<string, number>();
  /** The cgroup directories whose entries tell whether the containers changed. */
  #watched: readonly string[] = [""];

  constructor(options: ContainerdStatsRuntimeOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#excluded = new Set(DEFAULT_EXCLUDED_CONTAINERD_NAMESPACES);
    this.#networks = new ProcessNetworks(options.procRoot);
    this.#procStat = kernelFile(join(options.procRoot, "stat"), regeneratesOnRead(options.procRoot), {
      oneRecord: true,
    });
    this.#unreachable = new OutageLog({
      logger: options.logger,
      failureMessage: "cannot list containerd's tasks; containerd unreachable, retrying every tick",
      recoveryMessage: "containerd reachable again",
    });
    this.#notices = new FallbackNotices({
      logger: options.logger,
      apiName: "containerd's Metrics API",
      unreadable: "cgroup files",
    });
  }

  /** Whether the last tick could reach containerd: the heartbeat's `connected`. */
  get connected(): boolean {
    return this.#reachable;
  }

  describe(detail: ContainerdTickDetail): Record<string, unknown> {
    return {
      containerd_reachable: detail.containerdReachable,
      namespaces: detail.namespaces,
      containers: detail.containers,
      via_files: detail.viaFiles,
      via_metrics: detail.viaMetrics,
      listed: detail.listed,
    };
  }

  /** One pass over every running task of the reported namespaces. */
  async sample(tick: SamplingTick): Promise<ContainerdTickDetail> {
    const detail: ContainerdTickDetail = {
      containerdReachable: false,
      namespaces: 0,
      containers: 0,
      viaFiles: 0,
      viaMetrics: 0,
      listed: false,
    };
    const running = await this.#runningContainers(detail, tick);
    if (running === undefined) return detail;
    detail.containers = running.length;

    // Containers that are gone take their previous readings and kept files with them.
    const keys = new Set(running.map((container) => container.record.ref.external_id));
    tick.retain((reading) => keys.has(reading.container.external_id));
    for (const map of [this.#pids, this.#paths])
      for (const key of map.keys()) if (!keys.has(key)) map.delete(key);
    for (const container of running) this.#pids.set(container.record.ref.external_id, container.pid);
    this.#networks.retainOnly(keys);
    const { files } = this.#options;
    files?.retainOnly(keys);

    const throughMetrics =
      files === undefined ? running : await this.#sampleFromFiles(tick, files, running, detail);
    detail.viaMetrics = throughMetrics.length;
    const readouts = throughMetrics.length === 0 ? [] : await this.#sampleViaMetrics(tick, throughMetrics);
    await tick.publish(readouts);
    this.#notices.endTick({
      containers: running.length,
      // Only containers Metrics could sample count: one that stopped meanwhile is not a fast path that fails.
      viaApi: files === undefined ? undefined : readouts.filter((readout) => !("skipped" in readout)).length,
      failed: tick.counts.failed,
    });
    return detail;
  }

  /** The running tasks of every reported namespace with their records; undefined when containerd cannot be reached. */
  async #runningContainers(
    detail: ContainerdTickDetail,
    tick: SamplingTick,
  ): Promise<RunningContainer[] | undefined> {
    const listed = await this.#currentTasks(detail);
    if (listed === undefined) return undefined;
    detail.namespaces = listed.length;
    for (const namespace of this.#records.keys()) {
      if (!listed.some((entry) => entry.namespace === namespace)) this.#records.delete(namespace);
    }

    const running: RunningContainer[] = [];
    for (const { namespace, tasks } of listed) {
      const live = tasks.filter((task) => task.status === "RUNNING" && task.pid > 0);
      if (live.length === 0 || tick.stopping) continue;
      const records = await this.#recordsFor(namespace, live);
      for (const task of live) {
        const record = records?.get(task.containerId);
        if (record === undefined) continue;
        const previousPid = this.#pids.get(record.ref.external_id);
        running.push({
          record,
          pid: task.pid,
          restarted: previousPid !== undefined && previousPid !== task.pid,
        });
      }
    }
    // Next tick, a new namespace shows at the hierarchy's root, a new or gone container under its
    // namespace's directory (containerd's default) or beside the others (a cgroup path of its own).
    const watched = new Set(["", ...listed.map((entry) => entry.namespace)]);
    for (const { record } of running) watched.add(dirname(record.cgroupPath));
    if (!sameList([...watched], this.#watched)) this.#watched = [...watched];
    return running;
  }

  /** The namespaces' tasks: the previous list while it still holds, else a fresh one; undefined when containerd cannot be reached. */
  async #currentTasks(detail: ContainerdTickDetail): Promise<TaskList["namespaces"] | undefined> {
    const { containerd, timeoutMs, files } = this.#options;
    const watched = this.#watched;
    const cgroups = files?.cgroupEntries(watched);
    const last = this.#lastList;
    if (
      last !== undefined &&
      !this.#listStale &&
      this.#reachable &&
      cgroups !== undefined &&
      last.cgroups !== undefined &&
      last.watched === watched &&
      this.#now() - last.fetchedAtMs < (this.#options.listMaxAgeMs ?? DEFAULT_LIST_MAX_AGE_MS) &&
      sameEntries(cgroups, last.cgroups)
    ) {
      detail.containerdReachable = true;
      return last.namespaces;
    }
    let namespaces: TaskList["namespaces"];
    try {
      const names =
        this.#options.namespaces ??
        (await withDeadline("namespace list", timeoutMs, (signal) => containerd.namespaces(signal))).filter(
          (namespace) => !this.#excluded.has(namespace),
        );
      namespaces = await Promise.all(
        names.map(async (namespace) => ({
          namespace,
          tasks: await withDeadline(`task list of ${namespace}`, timeoutMs, (signal) =>
            containerd.tasks(namespace, signal),
          ),
        })),
      );
    } catch (error) {
      this.#reachable = false;
      this.#lastList = undefined;
      this.#unreachable.failed({ err: error });
      return undefined;
    }
    this.#reachable = true;
    this.#unreachable.succeeded();
    detail.containerdReachable = true;
    detail.listed = true;
    this.#listStale = this.#caughtMidStart(namespaces, cgroups);
    this.#lastList = { namespaces, fetchedAtMs: this.#now(), watched, cgroups };
    return namespaces;
  }

  /**
   * Whether the list may have caught a container starting: runc makes its cgroup before its task
   * is listed, and the task is listed `CREATED` before it runs. The cgroups would not change again,
   * so the list would be kept without the container until it is old: it is fetched again next
   * tick instead, while a task is being created, or for up to 30 s while a cgroup under a
   * namespace's directory has no task of that name (after which it is not containerd's, or a leftover).
   */
  #caughtMidStart(namespaces: TaskList["namespaces"], cgroups: ReadonlySet<string> | undefined): boolean {
    const nowMs = this.#now();
    const unlisted = new Set<string>();
    let creating = false;
    for (const { namespace, tasks } of namespaces) {
      creating ||= tasks.some((task) => task.status === "CREATED");
      const listed = new Set(tasks.map((task) => task.containerId));
      for (const entry of cgroups ?? []) {
        const name = entry.startsWith(`${namespace}/`) ? entry.slice(namespace.length + 1) : undefined;
        if (name !== undefined && !listed.has(name)) unlisted.add(entry);
      }
    }
    for (const entry of this.#unlistedSinceMs.keys())
      if (!unlisted.has(entry)) this.#unlistedSinceMs.delete(entry);
    let awaiting = false;
    for (const entry of unlisted) {
      const sinceMs = this.#unlistedSinceMs.get(entry) ?? nowMs;
      this.#unlistedSinceMs.set(entry, sinceMs);
      awaiting ||= nowMs - sinceMs < UNLISTED_CGROUP_REFETCH_MS;
    }
    return creating || awaiting;
  }

  /**
   * The namespace's container records: the ones held while they know every running task and are
   * fresh, else a new list (the old one when that fails; undefined when there is none).
   */
  async #recordsFor(
    namespace: string,
    tasks: readonly ContainerdTask[],
  ): Promise<ReadonlyMap<string, ContainerdRecord> | undefined> {
    const held = this.#records.get(namespace);
    const maxAgeMs = this.#options.listMaxAgeMs ?? DEFAULT_LIST_MAX_AGE_MS;
    if (
      held !== undefined &&
      this.#now() - held.fetchedAtMs < maxAgeMs &&
      tasks.every((task) => held.byId.has(task.containerId))
    ) {
      return held.byId;
    }
    try {
      const containers = await withDeadline(
        `container list of ${namespace}`,
        this.#options.timeoutMs,
        (signal) => this.#options.containerd.containers(namespace, signal),
      );
      const byId = new Map(
        containers.map((container) => [container.id, containerdRecord(namespace, container)]),
      );
      this.#records.set(namespace, { byId, fetchedAtMs: this.#now() });
      return byId;
    } catch (error) {
      this.#logger.debug({ err: error, namespace }, "container list failed; keeping the records held");
      return held?.byId;
    }
  }

  /** Reads every container it can from its files and hands those readings to the core; returns the others. */
  async #sampleFromFiles(
    tick: SamplingTick,
    files: ContainerFileReader<ContainerdProcess>,
    running: readonly RunningContainer[],
    detail: ContainerdTickDetail,
  ): Promise<RunningContainer[]> {
    // The host's CPU count first, then every container right after it in one synchronous pass.
    const begun = files.beginTick();
    if (!begun.ok) {
      for (const container of running) this.#notePath(container, "Metrics", begun.detail);
      return [...running];
    }
    const readings: ContainerReading[] = [];
    const skipped: Skipped[] = [];
    const rest: RunningContainer[] = [];
    for (const container of running) {
      const result = files.read(container.record.ref.external_id, container);
      if (!result.ok) {
        // Perhaps it stopped, or was restarted into a new task: the next tick lists again.
        this.#listStale = true;
        this.#notePath(container, "Metrics", result.detail);
        rest.push(container);
        continue;
      }
      if (result.reading.pids === 0) {
        // Its task exited and awaits deletion: an empty cgroup, whose frozen counters are no sample.
        this.#listStale = true;
        skipped.push({ skipped: "gone" });
        continue;
      }
      this.#notePath(container, "cgroup files");
      readings.push(containerdReading(container.record, result.reading, container.restarted));
    }
    detail.viaFiles = readings.length;
    if (readings.length > 0 || skipped.length > 0) await tick.publish([...readings, ...skipped]);
    return rest;
  }

  /** Reads the containers through `Tasks.Metrics`, one call per namespace; never throws. */
  async #sampleViaMetrics(
    tick: SamplingTick,
    containers: readonly RunningContainer[],
  ): Promise<(ContainerReading | Skipped)[]> {
    const byNamespace = new Map<string, RunningContainer[]>();
    for (const container of containers) {
      const namespace = container.record.namespace;
      byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), container]);
    }
    const text = this.#procStat.read();
    const onlineCpus = (text === undefined ? undefined : parseProcStat(text))?.onlineCpus ?? null;
    const readouts: (ContainerReading | Skipped)[] = [];
    await Promise.all(
      [...byNamespace].map(async ([namespace, members]) => {
        if (tick.stopping) return;
        let metrics: Awaited<ReturnType<ContainerdPort["metrics"]>>;
        try {
          metrics = await withDeadline(`Metrics of ${namespace}`, this.#options.timeoutMs, (signal) =>
            this.#options.containerd.metrics(
              namespace,
              members.map((container) => `id==${container.record.id}`),
              signal,
            ),
          );
        } catch (error) {
          this.#logger.debug(
            { err: error, namespace },
            "Metrics failed; the namespace's containers skipped this tick",
          );
          for (const _ of members) readouts.push({ skipped: "failed" });
          return;
        }
        const byId = new Map(metrics.map((metric) => [metric.containerId, metric]));
        for (const container of members) {
          readouts.push(this.#readMetric(container, byId.get(container.record.id), onlineCpus));
        }
      }),
    );
    return readouts;
  }

  #readMetric(
    container: RunningContainer,
    metric: Awaited<ReturnType<ContainerdPort["metrics"]>>[number] | undefined,
    onlineCpus: number | null,
  ): ContainerReading | Skipped {
    const { record } = container;
    const log = () =>
      this.#logger.child({ container_id: record.ref.external_id, container_name: record.ref.name });
    if (metric === undefined) {
      // containerd leaves out a task that exited meanwhile (and one whose cgroup it could not read, which it logs).
      log().debug("Metrics had no entry for the task; container skipped this tick");
      this.#listStale = true;
      return { skipped: "gone" };
    }
    const read = metricsReading(metric, { onlineCpus, readAtMs: this.#now() });
    if (!read.ok) {
      log().debug({ detail: read.detail }, "Metrics unusable; container skipped this tick");
      return { skipped: "failed" };
    }
    return containerdReading(record, this.#withNetwork(container, read.reading), container.restarted);
  }

  /** The reading with its task's network counters; none when they cannot be read (the fallback's figures are still good). */
  #withNetwork(container: RunningContainer, reading: StatsReading): StatsReading {
    const { record } = container;
    if (!record.ownNetwork) return reading;
    const network = this.#networks.read(record.ref.external_id, container.pid, basename(record.cgroupPath));
    if (!network.ok) return reading;
    return { ...reading, netRxBytes: network.rxBytes, netTxBytes: network.txBytes };
  }

  /** Logs at debug when a container is first read, or read another way than last tick. */
  #notePath(container: RunningContainer, path: ReadPath, reason?: string): void {
    const { ref } = container.record;
    if (this.#paths.get(ref.external_id) === path) return;
    this.#paths.set(ref.external_id, path);
    this.#logger.debug(
      {
        container_id: ref.external_id,
        container_name: ref.name,
        path,
        ...(reason === undefined ? {} : { reason }),
      },
      path === "cgroup files"
        ? "container read from its cgroup files"
        : "container read through containerd's Metrics",
    );
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((entry, index) => entry === b[index]);
}

function sameEntries(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const entry of a) if (!b.has(entry)) return false;
  return true;
}
