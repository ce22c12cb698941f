// The runtime-neutral sampling core: runs a runtime adapter's tick at a fixed interval (never two
// at once), keeps every container's previous reading, tells a restart from a continuation,
// builds each container's stats message, hands it to the sink and counts what became of it.
// A container that cannot be sampled is skipped for the tick; nothing a container, the runtime or
// the bus does stops the ticking.
//
// Samples a tick hands over together go to the sink without an await in between, and the sink is
// then told the batch is complete: the bus client sends them in one socket write and the
// acknowledgements come back together. Each separate write, wake-up and acknowledgement read
// costs far more CPU than the sample it carries.
import type { HostStatsMessage, Logger } from "@crowsnest/shared/agent";
import type { HostStatsSink } from "../host/host-stats-collector.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { ContainerReading } from "./container-reading.ts";
import type { Readout, SampleCounts, SamplingTick, Skipped, StatsRuntime } from "./stats-runtime.ts";
import { buildStatsSample, isRestart } from "./stats-sample.ts";
import type { PublishResult, StatsSink } from "./stats-sink.ts";
import { TickLoop } from "./tick-loop.ts";

export interface StatsSamplerOptions<Detail extends object> {
  runtime: StatsRuntime<Detail>;
  sink: StatsSink;
  /** Where host samples the runtime reads (a node's) go; undefined: none are published. */
  hostSink?: HostStatsSink | undefined;
  /** The host name every sample carries. */
  host: string;
  intervalMs: number;
  logger: Logger;
  /** The scheduling's clock; the system clock by default. */
  clock?: Clock;
  /**
   * Runs at every interval on the tick's timer, also while a long tick skips ticks (the host's
   * own sample, which must not wait for a slow runtime): see TickLoop.
   */
  everyInterval?: (() => void) | undefined;
}

/** What one tick did: the core's counts and the adapter's own detail. */
export type TickSummary<Detail extends object> = SampleCounts & Detail;

type SampleOutcome = "published" | "unpublished" | "unchanged";

interface ContainerMemory {
  /** The previous reading, which the next one's CPU percentage and rates are computed from. */
  reading: ContainerReading;
  /** An invalid sample of this container was logged already: logged once, not every tick. */
  invalidLogged: boolean;
}

export class StatsSampler<Detail extends object> {
  readonly #options: StatsSamplerOptions<Detail>;
  readonly #runtime: StatsRuntime<Detail>;
  readonly #logger: Logger;
  readonly #memory = new Map<string, ContainerMemory>();
  readonly #loop: TickLoop<TickSummary<Detail>>;
  #hostInvalidLogged = false;

  constructor(options: StatsSamplerOptions<Detail>) {
    this.#options = options;
    this.#runtime = options.runtime;
    this.#logger = options.logger;
    this.#loop = new TickLoop({
      intervalMs: options.intervalMs,
      logger: options.logger,
      clock: options.clock ?? systemClock,
      tick: () => this.tick(),
      everyInterval: options.everyInterval,
      describe: (summary) => ({
        ...this.#runtime.describe(summary),
        published: summary.published,
        unpublished: summary.unpublished,
        unchanged: summary.unchanged,
        failed: summary.failed,
        gone: summary.gone,
      }),
    });
  }

  /** Whether the runtime answered the last tick: the heartbeat's `connected`. */
  get connected(): boolean {
    return this.#runtime.connected;
  }

  /** Runs a tick now, then one every interval; resolves when the first tick has finished. */
  start(): Promise<void> {
    return this.#loop.start();
  }

  /** Stops ticking and waits for the tick in flight, which starts no new work once stopping. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** One pass over every container of the runtime. Public so tests can drive ticks one by one. */
  async tick(): Promise<TickSummary<Detail>> {
    const counts: SampleCounts = { published: 0, unpublished: 0, unchanged: 0, failed: 0, gone: 0 };
    const loop = this.#loop;
    const tick: SamplingTick = {
      get stopping() {
        return loop.stopping;
      },
      counts,
      previous: (id) => this.#memory.get(id)?.reading,
      publish: (readouts) => this.#publishAll(readouts, counts),
      retain: (keep) => {
        // forEach, not for-of: no entry array and iterator result per container every tick.
        this.#memory.forEach((memory, id) => {
          if (!keep(memory.reading)) this.#memory.delete(id);
        });
      },
      publishHost: (message) => this.#publishHost(message),
    };
    const detail = await this.#runtime.sample(tick);
    return { ...detail, ...counts };
  }

  async #publishAll(readouts: readonly Readout[], counts: SampleCounts): Promise<void> {
    const pending: Promise<void>[] = [];
    let handedOver = false;
    // Indexed: this runs a few times a tick, seldom optimized, and for-of would then make an
    // iterator result per sample.
    for (let index = 0; index < readouts.length; index++) {
      const readout = readouts[index] as Readout;
      if (readout instanceof Promise) {
        pending.push(
          readout.then(async (settled) => {
            const outcome = this.#accept(settled, counts);
            if (outcome !== undefined) counts[await outcome] += 1;
          }),
        );
        continue;
      }
      const outcome = this.#accept(readout, counts);
      if (outcome === undefined) continue;
      if (outcome !== "unchanged") handedOver = true;
      if (outcome instanceof Promise) {
        pending.push(
          outcome.then((settled) => {
            counts[settled] += 1;
          }),
        );
      } else {
        counts[outcome] += 1;
      }
    }
    // Only the samples handed over now make a batch; ones still being finished follow on their own.
    if (handedOver) this.#options.sink.batchComplete?.();
    await Promise.all(pending);
  }

  /** Counts a skipped container, or builds and publishes the reading; undefined when nothing went to the sink. */
  #accept(
    readout: ContainerReading | Skipped,
    counts: SampleCounts,
  ): SampleOutcome | Promise<SampleOutcome> | undefined {
    if ("skipped" in readout) {
      counts[readout.skipped] += 1;
      if (readout.reading !== undefined) this.#remember(readout.reading);
      return undefined;
    }
    return this.#publish(readout);
  }

  /** Keeps a reading as the container's previous one; returns the reading it replaces. */
  #remember(reading: ContainerReading): ContainerReading | undefined {
    const id = reading.container.external_id;
    const memory = this.#memory.get(id);
    if (memory === undefined) {
      this.#memory.set(id, { reading, invalidLogged: false });
      return undefined;
    }
    const replaced = memory.reading;
    memory.reading = reading;
    return replaced;
  }

  /** Builds the sample and hands it to the sink; synchronous when the sink is. Never throws. */
  #publish(reading: ContainerReading): SampleOutcome | Promise<SampleOutcome> {
    const id = reading.container.external_id;
    if (this.#runtime.repeatsReadings) {
      // The runtime has not read the container again since the last tick: the same sample again
      // would be a duplicate with a zero interval.
      const last = this.#memory.get(id);
      if (last !== undefined && reading.readAtMs <= last.reading.readAtMs) return "unchanged";
    }
    const previous = this.#remember(reading);
    // The builder leaves out a previous reading of another run itself; this only says so, when anyone listens.
    if (previous !== undefined && this.#logger.isLevelEnabled("debug") && isRestart(previous, reading)) {
      this.#containerLog(reading).debug("container restarted; CPU and rates start over");
    }
    const message = buildStatsSample({
      host: this.#options.host,
      runtime: this.#runtime.runtime,
      reading,
      previous,
    });
    let result: PublishResult | Promise<PublishResult>;
    try {
      result = this.#options.sink.publish(message);
    } catch (error) {
      this.#containerLog(reading).debug({ err: error }, "the sink threw; sample not published");
      return "unpublished";
    }
    if (result instanceof Promise) {
      return result.then(
        (settled) => this.#outcome(reading, settled),
        (error: unknown) => {
          this.#containerLog(reading).debug({ err: error }, "the sink failed; sample not published");
          return "unpublished" as const;
        },
      );
    }
    return this.#outcome(reading, result);
  }

  #outcome(reading: ContainerReading, result: PublishResult): SampleOutcome {
    if (result.status === "invalid") {
      const memory = this.#memory.get(reading.container.external_id);
      if (memory !== undefined && !memory.invalidLogged) {
        this.#containerLog(reading).warn(
          { detail: result.detail },
          "sample failed the stats schema; not published (logged once)",
        );
        memory.invalidLogged = true;
      }
      return "unpublished";
    }
    return result.status === "failed" ? "unpublished" : "published";
  }

  /** A logger naming the container: made only when something is logged, not for every sample. */
  #containerLog(reading: ContainerReading): Logger {
    return this.#logger.child({
      container_id: reading.container.external_id,
      container_name: reading.container.name,
      ...(reading.node === undefined ? {} : { node: reading.node }),
    });
  }

  #publishHost(message: HostStatsMessage): boolean {
    const sink = this.#options.hostSink;
    if (sink === undefined) return false;
    const published = sink.publish(message);
    if (published.status !== "invalid") return true;
    if (!this.#hostInvalidLogged) {
      this.#hostInvalidLogged = true;
      this.#logger.warn(
        { detail: published.detail },
        "host sample failed its schema; not published (logged once)",
      );
    }
    return false;
  }
}
