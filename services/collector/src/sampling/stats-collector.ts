// Samples every running container at a fixed interval and hands one stats message per container
// per tick to a sink. Ticks never overlap: one still running when the next is due makes that
// next one skip. A container that cannot be sampled is skipped for the tick; nothing a
// container, the engine or the bus does stops the ticking.
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
// Either way a tick hands its samples to the sink together, and then tells the sink the batch is
// complete: the bus client sends them in one socket write and the acknowledgements come back
// together, instead of a few samples at a time as dockerd's answers trickle in. Each separate
// write, wake-up and acknowledgement read costs far more CPU than the sample it carries.
import type { Logger } from "@crowsnest/shared";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import type { ContainerFileReader } from "./cgroup-stats-reader.ts";
import type { ContainerLimits } from "./container-limits.ts";
import { type ContainerSummary, containerSummaryFrom } from "./container-summary.ts";
import { ContainerGoneError, type DockerPort } from "./docker-port.ts";
import { LimitsCache, type LimitsLookup } from "./limits-cache.ts";
import { readDockerStats, type StatsReading } from "./stats-reading.ts";
import { buildStatsSample, isCounterReset } from "./stats-sample.ts";
import type { PublishResult, StatsSink } from "./stats-sink.ts";
import { TickLoop } from "./tick-loop.ts";

export interface StatsCollectorOptions {
  docker: DockerPort;
  sink: StatsSink;
  /** The host name every sample carries. */
  host: string;
  intervalMs: number;
  /** At most this many containers are sampled at once. */
  concurrency: number;
  /** Bound on each Docker call (list, stats, inspect). */
  dockerTimeoutMs: number;
  /** How long a container's inspected limits are trusted; defaults to 5 minutes. */
  limitsTtlMs?: number;
  /** The cgroup fast path; undefined: every container is read through the Docker API. */
  files?: ContainerFileReader | undefined;
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
  /** The clock of list ages; Date.now by default. */
  now?: () => number;
  logger: Logger;
}

const DEFAULT_UNLISTED_CGROUP_REFETCH_MS = 30_000;

/** What one tick did; logged at debug and returned for tests. */
export interface TickSummary {
  /** Whether the container list could be read. */
  dockerReachable: boolean;
  containers: number;
  published: number;
  /** Samples the sink refused: the bus did not take them, or they failed validation. */
  unpublished: number;
  /** Containers that could not be sampled: timeout, engine error, unusable answer. */
  failed: number;
  /** Containers that stopped or were removed between the list and their stats. */
  gone: number;
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

type SampleOutcome = "published" | "unpublished" | "failed" | "gone";
type ReadPath = "cgroup files" | "Docker API";

/** A container read through the API, its sample still to be built and handed to the sink. */
interface ApiSample {
  container: ContainerSummary;
  reading: StatsReading;
  previous: StatsReading | undefined;
  limits: ContainerLimits;
}

interface ContainerMemory {
  /** The previous reading, which the next one's CPU percentage and rates are computed from. */
  reading: StatsReading;
  /** An invalid sample of this container was logged already: logged once, not every tick. */
  invalidLogged: boolean;
}

export class StatsCollector {
  readonly #options: StatsCollectorOptions;
  readonly #logger: Logger;
  readonly #limits: LimitsCache;
  readonly #memory = new Map<string, ContainerMemory>();
  readonly #dockerOutage: OutageLog;
  readonly #samplingTrouble: OutageLog;
  readonly #fallbackNotice: OutageLog;
  /** Which way each container was read last, so a change of way is logged once. */
  readonly #paths = new Map<string, ReadPath>();
  readonly #loop: TickLoop<TickSummary>;
  #dockerReachable = false;
  #lastList: ListSnapshot | undefined;
  /** A container vanished without its cgroup telling (one with a --cgroup-parent): list again. */
  #listStale = false;
  /** Container cgroups the last list lacked, with when each was first seen unlisted. */
  readonly #unlistedSinceMs = new Map<string, number>();
  readonly #now: () => number;

  constructor(options: StatsCollectorOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#loop = new TickLoop({
      intervalMs: options.intervalMs,
      logger: options.logger,
      tick: () => this.tick(),
      describe: (summary) => ({
        docker_reachable: summary.dockerReachable,
        containers: summary.containers,
        published: summary.published,
        unpublished: summary.unpublished,
        failed: summary.failed,
        gone: summary.gone,
        via_files: summary.viaFiles,
        via_api: summary.viaApi,
        listed: summary.listed,
      }),
    });
    this.#limits = new LimitsCache({
      inspect: (id) =>
        withDeadline(`inspect of ${id}`, options.dockerTimeoutMs, (signal) =>
          options.docker.inspectContainer(id, signal),
        ),
      ...(options.limitsTtlMs === undefined ? {} : { ttlMs: options.limitsTtlMs }),
    });
    this.#dockerOutage = new OutageLog({
      logger: options.logger,
      failureMessage: "cannot list containers; Docker unreachable, retrying every tick",
      recoveryMessage: "Docker reachable again",
    });
    this.#samplingTrouble = new OutageLog({
      logger: options.logger,
      failureMessage: "some containers could not be sampled and were skipped (details at debug level)",
      recoveryMessage: "every container sampled again",
    });
    this.#fallbackNotice = new OutageLog({
      logger: options.logger,
      failureMessage:
        "some containers are read through the Docker API because their cgroup or /proc files are not readable (reasons at debug level)",
      recoveryMessage: "every container read from its cgroup files again",
    });
  }

  /** Whether the last tick could reach Docker: the heartbeat's `connected`. */
  get dockerReachable(): boolean {
    return this.#dockerReachable;
  }

  /** Runs a tick now, then one every interval; resolves when the first tick has finished. */
  start(): Promise<void> {
    return this.#loop.start();
  }

  /** Stops ticking and waits for the tick in flight, which starts no new work once stopping. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** One pass over every running container. Public so tests can drive ticks one by one. */
  async tick(): Promise<TickSummary> {
    const summary: TickSummary = {
      dockerReachable: false,
      containers: 0,
      published: 0,
      unpublished: 0,
      failed: 0,
      gone: 0,
      viaFiles: 0,
      viaApi: 0,
      listed: false,
    };
    const containers = await this.#currentContainers(summary);
    if (containers === undefined) return summary;
    summary.dockerReachable = true;
    summary.containers = containers.length;

    // Containers that are gone take their previous readings and limits with them.
    const ids = new Set(containers.map((container) => container.id));
    for (const id of this.#memory.keys()) if (!ids.has(id)) this.#memory.delete(id);
    for (const id of this.#paths.keys()) if (!ids.has(id)) this.#paths.delete(id);
    this.#limits.retainOnly(ids);
    this.#options.files?.retainOnly(ids);

    const throughApi =
      this.#options.files === undefined
        ? containers
        : await this.#sampleFromFiles(this.#options.files, containers, summary);
    summary.viaApi = throughApi.length;
    const sampled: ApiSample[] = [];
    await forEachBounded(
      throughApi,
      this.#options.concurrency,
      async (container) => {
        const result = await this.#sampleViaApi(container);
        if (typeof result !== "string") {
          sampled.push(result);
          return;
        }
        summary[result] += 1;
        if (result === "gone") this.#listStale = true;
      },
      () => this.#loop.stopping,
    );
    const sampledViaApi = sampled.length;
    if (sampledViaApi > 0) {
      await this.#settle(
        sampled.map((sample) =>
          this.#publish(sample.container, sample.reading, sample.previous, sample.limits),
        ),
        summary,
      );
    }
    if (this.#options.files !== undefined) {
      // Only containers the API could sample count: one that stopped between the list and its
      // files is not a fast path that fails, and must not make the notice come and go.
      if (sampledViaApi > 0) {
        this.#fallbackNotice.failed({ via_api: sampledViaApi, containers: containers.length });
      } else {
        this.#fallbackNotice.succeeded();
      }
    }

    if (summary.failed > 0) {
      this.#samplingTrouble.failed({ failed: summary.failed, containers: containers.length });
    } else {
      this.#samplingTrouble.succeeded();
    }
    return summary;
  }

  /**
   * Reads every container it can from its files and publishes those samples; returns the
   * containers to read through the API instead.
   */
  async #sampleFromFiles(
    files: ContainerFileReader,
    containers: readonly ContainerSummary[],
    summary: TickSummary,
  ): Promise<ContainerSummary[]> {
    const throughApi: ContainerSummary[] = [];
    // The PID, network mode and cgroup parent come from inspect, cached like the limits: after
    // the first tick this pass makes no Docker call at all, and costs no await per container.
    const lookups = new Map<string, LimitsLookup>();
    const uncached: ContainerSummary[] = [];
    for (const container of containers) {
      const cached = this.#limits.peek(container.id);
      if (cached) lookups.set(container.id, cached);
      else uncached.push(container);
    }
    await forEachBounded(
      uncached,
      this.#options.concurrency,
      async (container) => {
        try {
          lookups.set(container.id, await this.#limits.get(container.id));
        } catch (error) {
          this.#notePath(container, "Docker API", `inspect failed: ${(error as Error).message}`);
          throughApi.push(container);
        }
      },
      () => this.#loop.stopping,
    );

    // Only now the host's CPU clock, then every container right after it in one synchronous pass:
    // both ends of every CPU delta are read microseconds apart.
    const begun = files.beginTick();
    if (!begun.ok) {
      for (const container of containers) {
        if (lookups.has(container.id)) {
          this.#notePath(container, "Docker API", begun.detail);
          throughApi.push(container);
        }
      }
      return throughApi;
    }
    const read: { container: ContainerSummary; lookup: LimitsLookup; reading: StatsReading }[] = [];
    for (const container of containers) {
      const lookup = lookups.get(container.id);
      if (lookup === undefined) continue;
      const result = files.read(container.id, lookup.process);
      if (result.ok) {
        read.push({ container, lookup, reading: result.reading });
      } else {
        this.#notePath(container, "Docker API", result.detail);
        throughApi.push(container);
      }
    }

    // Published without an await in between where nothing needs one, so the bus client sends the
    // whole tick in one write instead of one write per sample.
    const outcomes: (SampleOutcome | Promise<SampleOutcome>)[] = [];
    for (const { container, lookup, reading } of read) {
      this.#notePath(container, "cgroup files");
      summary.viaFiles += 1;
      outcomes.push(this.#finishFromFiles(files, container, lookup, reading));
    }
    if (outcomes.length > 0) await this.#settle(outcomes, summary);
    return throughApi;
  }

  /**
   * Counts the outcomes of samples just handed to the sink, after telling it that the batch is
   * complete (so it sends them now rather than waiting for more).
   */
  async #settle(
    outcomes: readonly (SampleOutcome | Promise<SampleOutcome>)[],
    summary: TickSummary,
  ): Promise<void> {
    this.#options.sink.batchComplete?.();
    const pending: Promise<void>[] = [];
    for (const outcome of outcomes) {
      if (outcome instanceof Promise) {
        pending.push(
          outcome.then((settled) => {
            summary[settled] += 1;
          }),
        );
      } else {
        summary[outcome] += 1;
      }
    }
    await Promise.all(pending);
  }

  #finishFromFiles(
    files: ContainerFileReader,
    container: ContainerSummary,
    lookup: LimitsLookup,
    reading: StatsReading,
  ): SampleOutcome | Promise<SampleOutcome> {
    const memory = this.#memory.get(container.id);
    if (memory !== undefined && isCounterReset(memory.reading, reading)) {
      return this.#finishAfterRestart(files, container, reading, lookup.limits, memory.invalidLogged);
    }
    if (lookup.restarted)
      this.#containerLog(container).debug("container restarted; CPU and rates start over");
    this.#memory.set(container.id, { reading, invalidLogged: memory?.invalidLogged ?? false });
    return this.#publish(container, reading, lookup.restarted ? undefined : memory?.reading, lookup.limits);
  }

  /**
   * A new run of the container in a new cgroup: its PID (whose network was read) and perhaps its
   * limits are not the cached ones. Inspects again and reads again with the new PID.
   */
  async #finishAfterRestart(
    files: ContainerFileReader,
    container: ContainerSummary,
    firstReading: StatsReading,
    cachedLimits: ContainerLimits,
    invalidLogged: boolean,
  ): Promise<SampleOutcome> {
    const log = this.#containerLog(container);
    let reading = firstReading;
    let limits = cachedLimits;
    try {
      const fresh = await this.#limits.get(container.id, { refresh: true });
      limits = fresh.limits;
      const again = files.read(container.id, fresh.process);
      if (again.ok) reading = again.reading;
    } catch (error) {
      log.debug({ err: error }, "inspect after a restart failed; keeping the cached limits");
    }
    log.debug("container restarted; CPU and rates start over");
    this.#memory.set(container.id, { reading, invalidLogged });
    return this.#publish(container, reading, undefined, limits);
  }

  /** A logger naming the container: made only when something is logged, not for every sample. */
  #containerLog(container: ContainerSummary): Logger {
    return this.#logger.child({ container_id: container.id, container_name: container.name });
  }

  /** Reads one container through the Docker API, for #publish; never throws. */
  async #sampleViaApi(container: ContainerSummary): Promise<ApiSample | "failed" | "gone"> {
    const { id } = container;
    const log = () => this.#containerLog(container);
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
        return read.reason === "not_running" ? "gone" : "failed";
      }
      const { reading } = read;
      const memory = this.#memory.get(id);
      // Remembered at once: the next sample's CPU and rates are right even if this one goes no further.
      this.#memory.set(id, { reading, invalidLogged: memory?.invalidLogged ?? false });
      const counterReset = memory !== undefined && isCounterReset(memory.reading, reading);
      const lookup =
        (counterReset ? undefined : this.#limits.peek(id)) ??
        (await this.#limits.get(id, { refresh: counterReset }));
      // After a restart the previous reading belongs to another run of the container.
      const restarted = counterReset || lookup.restarted;
      if (restarted) log().debug("container restarted; CPU and rates start over");
      return { container, reading, previous: restarted ? undefined : memory?.reading, limits: lookup.limits };
    } catch (error) {
      if (error instanceof ContainerGoneError) {
        log().debug("container removed before it could be sampled");
        return "gone";
      }
      log().debug({ err: error }, "container could not be sampled; skipped this tick");
      return "failed";
    }
  }

  /** Builds the sample and hands it to the sink; synchronous when the sink is. Never throws. */
  #publish(
    container: ContainerSummary,
    reading: StatsReading,
    previous: StatsReading | undefined,
    limits: ContainerLimits,
  ): SampleOutcome | Promise<SampleOutcome> {
    const message = buildStatsSample({
      host: this.#options.host,
      container: { external_id: container.id, name: container.name },
      reading,
      previous,
      limits,
    });
    let result: PublishResult | Promise<PublishResult>;
    try {
      result = this.#options.sink.publish(message);
    } catch (error) {
      this.#containerLog(container).debug({ err: error }, "the sink threw; sample not published");
      return "unpublished";
    }
    if (result instanceof Promise) {
      return result.then(
        (settled) => this.#outcome(container, settled),
        (error: unknown) => {
          this.#containerLog(container).debug({ err: error }, "the sink failed; sample not published");
          return "unpublished" as const;
        },
      );
    }
    return this.#outcome(container, result);
  }

  #outcome(container: ContainerSummary, result: PublishResult): SampleOutcome {
    if (result.status === "invalid") {
      const memory = this.#memory.get(container.id);
      if (memory !== undefined && !memory.invalidLogged) {
        this.#containerLog(container).warn(
          { detail: result.detail },
          "sample failed the stats schema; not published (logged once)",
        );
        memory.invalidLogged = true;
      }
      return "unpublished";
    }
    return result.status === "failed" ? "unpublished" : "published";
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

  /** The running containers: the previous list while it still holds, else a fresh one. */
  async #currentContainers(summary: TickSummary): Promise<ContainerSummary[] | undefined> {
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
    summary.listed = true;
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
  for (const id of a) if (!b.has(id)) return false;
  return true;
}
