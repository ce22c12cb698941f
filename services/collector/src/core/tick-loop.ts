// Runs a collector's tick every interval without ever overlapping two: while one is still
// running, the ticks due are skipped with one log line, and one more when it finally ends.
// Work that must keep its pace whatever a tick does (the host's own sample) runs on the same
// timer, so an idle collector wakes up once per interval instead of once per timer.
import type { Logger } from "@crowsnest/shared/agent";
import { type Clock, type ClockTimer, systemClock } from "./clock.ts";

export interface TickLoopOptions<Summary> {
  intervalMs: number;
  logger: Logger;
  /** When ticks are due and how long they took; the system clock by default. */
  clock?: Clock;
  /** One pass; expected failures are its own business, anything it throws is logged as a bug. */
  tick: () => Promise<Summary>;
  /** The fields of the per-tick debug line. */
  describe: (summary: Summary) => Record<string, unknown>;
  /**
   * Runs at every interval just before the tick, also when a tick still running skips it;
   * synchronous, and anything it throws is logged as a bug.
   */
  everyInterval?: (() => void) | undefined;
}

export class TickLoop<Summary> {
  readonly #options: TickLoopOptions<Summary>;
  readonly #clock: Clock;
  #timer: ClockTimer | undefined;
  #inFlight: Promise<void> | undefined;
  #skippedTicks = 0;
  #stopping = false;

  constructor(options: TickLoopOptions<Summary>) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** True once stop() was called: a tick in flight should start nothing new. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Runs a tick now, then one every interval; resolves when the first tick has finished. */
  async start(): Promise<void> {
    if (this.#timer !== undefined) return;
    this.#stopping = false;
    this.#timer = this.#clock.setInterval(() => this.#onTimer(), this.#options.intervalMs);
    this.#onTimer();
    await this.#inFlight;
  }

  /** Stops ticking and waits for the tick in flight. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== undefined) this.#clock.clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  #onTimer(): void {
    const { logger, everyInterval } = this.#options;
    if (everyInterval !== undefined) {
      try {
        everyInterval();
      } catch (error) {
        logger.error({ err: error }, "work at the interval failed unexpectedly");
      }
    }
    if (this.#inFlight !== undefined) {
      this.#skippedTicks += 1;
      if (this.#skippedTicks === 1) {
        logger.warn(
          { interval_ms: this.#options.intervalMs },
          "previous tick still running; skipping ticks until it finishes",
        );
      }
      return;
    }
    const startedAtMs = this.#clock.now();
    this.#inFlight = this.#options
      .tick()
      .then((summary) => {
        const durationMs = this.#clock.now() - startedAtMs;
        if (this.#skippedTicks > 0) {
          logger.info({ skipped_ticks: this.#skippedTicks, duration_ms: durationMs }, "long tick finished");
          this.#skippedTicks = 0;
        }
        logger.debug({ ...this.#options.describe(summary), duration_ms: durationMs }, "tick finished");
      })
      .catch((error: unknown) => {
        // tick() handles every failure it expects; this is a bug, but must not stop the ticking.
        logger.error({ err: error }, "tick failed unexpectedly");
      })
      .finally(() => {
        this.#inFlight = undefined;
      });
  }
}
