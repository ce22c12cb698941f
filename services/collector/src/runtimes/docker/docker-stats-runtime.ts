// The Docker runtime of the collector: turns every running container into one reading per tick
// for the sampling core (core/stats-sampler.ts), which publishes it.
//
// With a file reader (the cgroup fast path), a tick reads every container's cgroup files in one
// synchronous pass and asks the Docker API (one-shot stats) only for the containers whose files
// it cannot read; without one, every container goes through the API. With a file reader the
// container list, too, is fetched only when the host's container cgroups change (or when it is
// older than `listMaxAgeMs`): an unchanged host then costs dockerd nothing at all per tick.
// A list that lacks a container whose cgroup was in the snapshot taken just before it is stale
// (runc creates the cgroup up to seconds before dockerd lists the container as running): it is
// fetched again every tick until it has them, for a bounded time per container, so a container
// is sampled from the first tick after dockerd lists it.
//
// A container's limits (and what the fast path needs of its process) come from its inspect,
// cached (limits-cache.ts). On the cgroup path, whenever the tick fetched the container list, the
// containers' limit files are read too: a `docker update` shows then (within `listMaxAgeMs`), and
// while they say what they said after the inspect the cached entry stays, instead of an inspect
// of every container each time the cache's TTL runs out. Containers read through the API are
// inspected again when their entry is older than the TTL.
//
// Either way a tick hands its readings to the core together (all those read from files, then all
// those read through the API once every answer is in), so the bus client sends them in one write.
import type { Logger } from "@crowsnest/shared/agent";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import type { ContainerFileReader } from "../../cgroup/cgroup-stats-reader.ts";
import type { StatsReading } from "../../cgroup/stats-counters.ts";
import { type ContainerLimits, UNLIMITED } from "../../core/container-limits.ts";
import type { ContainerReading } from "../../core/container-reading.ts";
import type { Readout, SamplingTick, Skipped, StatsRuntime } from "../../core/stats-runtime.ts";
import { isCounterReset } from "../../core/stats-sample.ts";
import { FallbackNotices } from "../fallback-notices.ts";
import type { ContainerProcess } from "./container-process.ts";
import { type ContainerSummary, containerSummaryFrom } from "./container-summary.ts";
import { ContainerGoneError, type DockerPort } from "./docker-port.ts";
import { containerReading } from "./docker-reading.ts";
import { LimitsCache, type LimitsLookup } from "./limits-cache.ts";
import { readDockerStats } from "./stats-reading.ts";

export interface DockerStatsRuntimeOptions {
  docker: DockerPort;
  /** At most this many containers are sampled at once. */
  concurrency: number;
  /** Bound on each Docker call (list, stats, inspect). */
  dockerTimeoutMs: number;
  /**
   * How long a container's inspected limits are trusted; defaults to 5 minutes. On the cgroup
   * path, each check of the limit files that finds them unchanged trusts them this long again.
   */
  limitsTtlMs?: number;
  /** The cgroup fast path; undefined: every container is read through the Docker API. */
  files?: ContainerFileReader<ContainerProcess> | undefined;
  /**
   * With a file reader: how long a container list is reused while the set of container cgroups
   * stays the same (names are only in the list: a rename shows within this). 0 or undefined:
   * the list is fetched every tick.
   */
  listMaxAgeMs?: number | undefined;
  /**
   * With a file reader: how long a container cgroup that the list lacks makes every tick fetch
   * the list again. A cgroup that is not listed within this is not dockerd's (another daemon's,
   * a leftover) and is then left alone. Defaults to 30 s.
   */
  unlistedCgroupRefetchMs?: number;
  /** The clock of list ages and of the limits' TTL; Date.now by default. */
  now?: () => number;
  logger: Logger;
}

const DEFAULT_UNLISTED_CGROUP_REFETCH_MS = 30_000;

/** What one tick did on the Docker side; the core adds its counts of outcomes. */
export interface DockerTickDetail {
  /** Whether the container list could be read. */
  dockerReachable: boolean;
  containers: number;
  /** Containers read from their cgroup files this tick. */
  viaFiles: number;
  /** Containers read through the Docker API this tick (all of them without a file reader). */
  viaApi: number;
  /** Whether this tick fetched the container list (false: the previous one still held). */
  listed: boolean;
}

interface ListSnapshot {
  containers: ContainerSummary[];
  fetchedAtMs: number;
  /** The container cgroups visible just before the list was fetched. */
  cgroups: ReadonlySet<string> | undefined;
}

type ReadPath = "cgroup files" | "Docker API";

export class DockerStatsRuntime implements StatsRuntime<DockerTickDetail> {
  readonly runtime = "docker";
  readonly repeatsReadings = false;
  readonly #options: DockerStatsRuntimeOptions;
  readonly #logger: Logger;
  readonly #limits: LimitsCache;
  readonly #dockerOutage: OutageLog;
  readonly #notices: FallbackNotices;
  /** Which way each container was read last, so a change of way is logged once. */
  readonly #paths = new Map<string, ReadPath>();
  #dockerReachable = false;
  #lastList: ListSnapshot | undefined;
  /** The ids of the container list last sampled (#idsOf). */
  #listIds: { containers: readonly ContainerSummary[]; ids: ReadonlySet<string> } | undefined;
  /** A container vanished without its cgroup telling (one with a --cgroup-parent): list again. */
  #listStale = false;
  /** Container cgroups the last list lacked, with when each was first seen unlisted. */
  readonly #unlistedSinceMs = new Map<string, number>();
  readonly #now: () => number;

  constructor(options: DockerStatsRuntimeOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#limits = new LimitsCache({
      inspect: (id) =>
        withDeadline(`inspect of ${id}`, options.dockerTimeoutMs, (signal) =>
          options.docker.inspectContainer(id, signal),
        ),
      ...(options.limitsTtlMs === undefined ? {} : { ttlMs: options.limitsTtlMs }),
      now: this.#now,
    });
    this.#dockerOutage = new OutageLog({
      logger: options.logger,
      failureMessage: "cannot list containers; Docker unreachable, retrying every tick",
      recoveryMessage: "Docker reachable again",
    });
    this.#notices = new FallbackNotices({
      logger: options.logger,
      apiName: "the Docker API",
      unreadable: "cgroup or /proc files",
    });
  }

  /** Whether the last tick could reach Docker: the heartbeat's `connected`. */
  get connected(): boolean {
    return this.#dockerReachable;
  }

  describe(detail: DockerTickDetail): Record<string, unknown> {
    return {
      docker_reachable: detail.dockerReachable,
      containers: detail.containers,
      via_files: detail.viaFiles,
      via_api: detail.viaApi,
      listed: detail.listed,
    };
  }

  /** One pass over every running container. */
  async sample(tick: SamplingTick): Promise<DockerTickDetail> {
    const detail: DockerTickDetail = {
      dockerReachable: false,
      containers: 0,
      viaFiles: 0,
      viaApi: 0,
      listed: false,
    };
    const containers = await this.#currentContainers(detail);
    if (containers === undefined) return detail;
    detail.dockerReachable = true;
    detail.containers = containers.length;

    // Containers that are gone take their previous readings and limits with them.
    const ids = this.#idsOf(containers);
    tick.retain((reading) => ids.has(reading.container.external_id));
    // forEach, not for-of: no iterator result per container every tick.
    this.#paths.forEach((_path, id) => {
      if (!ids.has(id)) this.#paths.delete(id);
    });
    this.#limits.retainOnly(ids);
    this.#options.files?.retainOnly(ids);

    const throughApi =
      this.#options.files === undefined
        ? containers
        : await this.#sampleFromFiles(tick, this.#options.files, containers, detail);
    detail.viaApi = throughApi.length;
    // Usually none once the files are read: then no closures, workers and promises for nothing.
    const sampledViaApi = throughApi.length === 0 ? 0 : await this.#sampleAllViaApi(tick, throughApi);
    this.#notices.endTick({
      containers: containers.length,
      // Only containers the API could sample count: one that stopped between the list and its
      // files is not a fast path that fails, and must not make the notice come and go.
      viaApi: this.#options.files === undefined ? undefined : sampledViaApi,
      failed: tick.counts.failed,
    });
    return detail;
  }

  /** Reads the containers through the Docker API and hands the readings to the core; returns how many it could read. */
  async #sampleAllViaApi(tick: SamplingTick, containers: readonly ContainerSummary[]): Promise<number> {
    const readouts: (ContainerReading | Skipped)[] = [];
    await forEachBounded(
      containers,
      this.#options.concurrency,
      async (container) => {
        const readout = await this.#sampleViaApi(tick, container);
        if ("skipped" in readout && readout.skipped === "gone") this.#listStale = true;
        readouts.push(readout);
      },
      () => tick.stopping,
    );
    await tick.publish(readouts);
    return readouts.filter((readout) => !("skipped" in readout)).length;
  }

  /**
   * Reads every container it can from its files and hands those readings to the core; returns
   * the containers to read through the API instead.
   */
  async #sampleFromFiles(
    tick: SamplingTick,
    files: ContainerFileReader<ContainerProcess>,
    containers: readonly ContainerSummary[],
    detail: DockerTickDetail,
  ): Promise<ContainerSummary[]> {
    const throughApi: ContainerSummary[] = [];
    // The PID, network mode and cgroup parent come from inspect, cached like the limits: after
    // the first tick this pass makes no Docker call at all, and costs no await per container.
    // Each container's lookup at its index in `containers` (no map per tick); indexed loops, as
    // a pass that runs once a tick is seldom optimized, and for-of then makes an iterator
    // result per container.
    const lookups: (LimitsLookup | undefined)[] = new Array(containers.length);
    const uncached: number[] = [];
    for (let index = 0; index < containers.length; index++) {
      const cached = this.#limits.peek((containers[index] as ContainerSummary).id);
      if (cached) lookups[index] = cached;
      else uncached.push(index);
    }
    if (uncached.length > 0) {
      await forEachBounded(
        uncached,
        this.#options.concurrency,
        async (index) => {
          const container = containers[index] as ContainerSummary;
          try {
            lookups[index] = await this.#limits.get(container.id);
          } catch (error) {
            this.#notePath(container, "Docker API", `inspect failed: ${(error as Error).message}`);
            throughApi.push(container);
          }
        },
        () => tick.stopping,
      );
    }

    // Only now the host's CPU clock, then every container right after it in one synchronous pass:
    // both ends of every CPU delta are read microseconds apart.
    const begun = files.beginTick();
    if (!begun.ok) {
      for (let index = 0; index < containers.length; index++) {
        if (lookups[index] !== undefined) {
          const container = containers[index] as ContainerSummary;
          this.#notePath(container, "Docker API", begun.detail);
          throughApi.push(container);
        }
      }
      return throughApi;
    }
    const readouts: Readout[] = [];
    for (let index = 0; index < containers.length; index++) {
      const lookup = lookups[index];
      if (lookup === undefined) continue;
      const container = containers[index] as ContainerSummary;
      const result = files.read(container.id, lookup.process);
      if (!result.ok) {
        this.#notePath(container, "Docker API", result.detail);
        throughApi.push(container);
        continue;
      }
      this.#notePath(container, "cgroup files");
      detail.viaFiles += 1;
      // Right after an inspect, the limit files are read to be compared later.
      const checkLimits = detail.listed || lookup.inspected;
      readouts.push(this.#finishFromFiles(tick, files, container, lookup, result.reading, checkLimits));
    }
    if (readouts.length > 0) await tick.publish(readouts);
    return throughApi;
  }

  #finishFromFiles(
    tick: SamplingTick,
    files: ContainerFileReader<ContainerProcess>,
    container: ContainerSummary,
    lookup: LimitsLookup,
    reading: StatsReading,
    checkLimits: boolean,
  ): Readout {
    const ready = containerReading(container, reading, lookup.limits, lookup.restarted);
    const previous = tick.previous(container.id);
    if (previous !== undefined && isCounterReset(previous, ready)) {
      return this.#finishAfterInspect(files, container, reading, lookup.limits, true);
    }
    if (checkLimits && !this.#limitFilesUnchanged(files, container.id)) {
      return this.#finishAfterInspect(files, container, reading, lookup.limits, false);
    }
    return ready;
  }

  /**
   * Whether the container's limit files say what they said after its last inspect (recorded now
   * if they were not read since); true when they cannot be read: the TTL then applies.
   */
  #limitFilesUnchanged(files: ContainerFileReader<ContainerProcess>, id: string): boolean {
    const signature = files.limitsSignature?.(id);
    return signature === undefined || this.#limits.confirm(id, signature);
  }

  /**
   * A new run of the container in a new cgroup (`counterReset`), or limit files that changed: its
   * PID (whose network was read) and its limits may not be the cached ones. Inspects again and,
   * for a new run, reads again with the PID inspected.
   */
  async #finishAfterInspect(
    files: ContainerFileReader<ContainerProcess>,
    container: ContainerSummary,
    firstReading: StatsReading,
    cachedLimits: ContainerLimits,
    counterReset: boolean,
  ): Promise<ContainerReading> {
    let reading = firstReading;
    let limits = cachedLimits;
    let restarted = counterReset;
    try {
      const fresh = await this.#limits.get(container.id, { refresh: true });
      limits = fresh.limits;
      restarted ||= fresh.restarted;
      // A new run: its process is the one just inspected, and its cgroup perhaps a new one.
      const again = restarted ? files.read(container.id, fresh.process) : undefined;
      if (again?.ok) reading = again.reading;
      this.#limitFilesUnchanged(files, container.id);
    } catch (error) {
      this.#containerLog(container).debug({ err: error }, "inspect failed; keeping the cached limits");
    }
    return containerReading(container, reading, limits, restarted);
  }

  /** A logger naming the container: made only when something is logged, not for every sample. */
  #containerLog(container: ContainerSummary): Logger {
    return this.#logger.child({ container_id: container.id, container_name: container.name });
  }

  /** Reads one container through the Docker API; never throws. */
  async #sampleViaApi(tick: SamplingTick, container: ContainerSummary): Promise<ContainerReading | Skipped> {
    const { id } = container;
    const log = () => this.#containerLog(container);
    let reading: StatsReading;
    try {
      const raw = await withDeadline(`stats of ${id}`, this.#options.dockerTimeoutMs, (signal) =>
        this.#options.docker.oneShotStats(id, signal),
      );
      const read = readDockerStats(raw);
      if (!read.ok) {
        log().debug(
          { reason: read.reason, detail: read.detail },
          "stats unusable; container skipped this tick",
        );
        return { skipped: read.reason === "not_running" ? "gone" : "failed" };
      }
      reading = read.reading;
    } catch (error) {
      if (error instanceof ContainerGoneError) {
        log().debug("container removed before it could be sampled");
        return { skipped: "gone" };
      }
      log().debug({ err: error }, "container could not be sampled; skipped this tick");
      return { skipped: "failed" };
    }
    const previous = tick.previous(id);
    // Its limits are not known yet: this reading is only ever kept as the previous one.
    const counters = containerReading(container, reading, UNLIMITED, false);
    const counterReset = previous !== undefined && isCounterReset(previous, counters);
    try {
      const lookup =
        (counterReset ? undefined : this.#limits.peek(id)) ??
        (await this.#limits.get(id, { refresh: counterReset }));
      return { ...counters, limits: lookup.limits, restarted: lookup.restarted };
    } catch (error) {
      if (error instanceof ContainerGoneError) {
        log().debug("container removed before it could be sampled");
        return { skipped: "gone", reading: counters };
      }
      log().debug({ err: error }, "container could not be sampled; skipped this tick");
      // Kept as the previous reading: the next sample's CPU and rates are right even if this one goes no further.
      return { skipped: "failed", reading: counters };
    }
  }

  /** Logs at debug when a container is first read, or read another way than last tick. */
  #notePath(container: ContainerSummary, path: ReadPath, reason?: string): void {
    if (this.#paths.get(container.id) === path) return;
    this.#paths.set(container.id, path);
    this.#logger.debug(
      {
        container_id: container.id,
        container_name: container.name,
        path,
        ...(reason === undefined ? {} : { reason }),
      },
      path === "cgroup files"
        ? "container read from its cgroup files"
        : "container read through the Docker API",
    );
  }

  /** The ids of a container list, made once per list: the list is kept across ticks while it holds. */
  #idsOf(containers: readonly ContainerSummary[]): ReadonlySet<string> {
    const last = this.#listIds;
    if (last !== undefined && last.containers === containers) return last.ids;
    const ids = new Set<string>();
    for (const container of containers) ids.add(container.id);
    this.#listIds = { containers, ids };
    return ids;
  }

  /** The running containers: the previous list while it still holds, else a fresh one. */
  async #currentContainers(detail: DockerTickDetail): Promise<ContainerSummary[] | undefined> {
    const { files, listMaxAgeMs = 0 } = this.#options;
    const cgroups = files?.containerIds();
    const last = this.#lastList;
    const nowMs = this.#now();
    if (
      last !== undefined &&
      !this.#listStale &&
      this.#dockerReachable &&
      cgroups !== undefined &&
      last.cgroups !== undefined &&
      nowMs - last.fetchedAtMs < listMaxAgeMs &&
      sameIds(cgroups, last.cgroups) &&
      !this.#awaitingUnlisted(nowMs)
    ) {
      return last.containers;
    }
    const containers = await this.#listContainers();
    detail.listed = true;
    this.#lastList = containers === undefined ? undefined : { containers, fetchedAtMs: this.#now(), cgroups };
    this.#listStale = false;
    if (containers !== undefined) this.#noteUnlisted(cgroups, containers, nowMs);
    return containers;
  }

  /** Whether a cgroup the last list lacked may still be a container dockerd is about to list. */
  #awaitingUnlisted(nowMs: number): boolean {
    const boundMs = this.#options.unlistedCgroupRefetchMs ?? DEFAULT_UNLISTED_CGROUP_REFETCH_MS;
    for (const sinceMs of this.#unlistedSinceMs.values()) if (nowMs - sinceMs < boundMs) return true;
    return false;
  }

  /** Remembers which cgroups of the snapshot taken before the list the list lacked, and since when. */
  #noteUnlisted(
    cgroups: ReadonlySet<string> | undefined,
    containers: readonly ContainerSummary[],
    nowMs: number,
  ): void {
    if (cgroups === undefined) {
      this.#unlistedSinceMs.clear();
      return;
    }
    const listed = new Set(containers.map((container) => container.id));
    for (const id of this.#unlistedSinceMs.keys()) {
      if (listed.has(id) || !cgroups.has(id)) this.#unlistedSinceMs.delete(id);
    }
    for (const id of cgroups) {
      if (!listed.has(id) && !this.#unlistedSinceMs.has(id)) this.#unlistedSinceMs.set(id, nowMs);
    }
  }

  async #listContainers(): Promise<ContainerSummary[] | undefined> {
    let listed: unknown;
    try {
      listed = await withDeadline("container list", this.#options.dockerTimeoutMs, (signal) =>
        this.#options.docker.listContainers(signal),
      );
    } catch (error) {
      this.#dockerReachable = false;
      this.#dockerOutage.failed({ err: error });
      return undefined;
    }
    this.#dockerReachable = true;
    this.#dockerOutage.succeeded();
    if (!Array.isArray(listed)) {
      this.#logger.warn({ type: typeof listed }, "container list is not a list; skipping this tick");
      return undefined;
    }
    const containers: ContainerSummary[] = [];
    for (const entry of listed as readonly unknown[]) {
      const container = containerSummaryFrom(entry);
      if (container) containers.push(container);
      else this.#logger.debug({ entry }, "container list entry without an id; skipped");
    }
    return containers;
  }
}

function sameIds(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  // forEach, not for-of: no iterator result per container every tick.
  let same = true;
  a.forEach((id) => {
    if (same && !b.has(id)) same = false;
  });
  return same;
}
