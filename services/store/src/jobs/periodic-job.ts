// Runs a piece of periodic work (rollups, retention, alert sweeps) at start and then every
// interval. A tick that comes while the previous run is still going is skipped; a failure is
// logged once until a run succeeds again, not once per tick.
import type { Logger } from "@crowsnest/shared";

export interface PeriodicJobOptions {
  name: string;
  intervalMs: number;
  /**
   * Tick on the interval's grid (multiples of intervalMs since the epoch) this far into it,
   * instead of every interval from start: the minute job runs as soon as a minute has settled
   * (services/store/src/rollup/rollup-job.ts), not up to an interval later.
   */
  phaseMs?: number;
  run: () => Promise<void>;
  logger: Logger;
}

export class PeriodicJob {
  readonly #options: PeriodicJobOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #failingSince: number | undefined;
  #stopped = false;

  constructor(options: PeriodicJobOptions) {
    this.#options = options;
  }

  start(): void {
    this.#stopped = false;
    this.#tick();
    const { intervalMs, phaseMs } = this.#options;
    if (phaseMs === undefined) {
      this.#timer = setInterval(() => this.#tick(), intervalMs);
      return;
    }
    // A timeout per tick, each set from the clock, so the ticks stay on the grid however long
    // a run or the event loop took.
    // From the tick just due at the latest: a timer that fires a moment before its time (the
    // timers' clock is not the wall clock) does not schedule the same tick twice.
    const schedule = (dueMs: number) => {
      const now = Date.now();
      const next =
        Math.floor((Math.max(now, dueMs) - phaseMs) / intervalMs) * intervalMs + intervalMs + phaseMs;
      this.#timer = setTimeout(() => {
        this.#tick();
        if (!this.#stopped) schedule(next);
      }, next - now);
    };
    schedule(0);
  }

  /** Runs now unless a run is going; resolves when that run (or the one going) ends. */
  async runNow(): Promise<void> {
    this.#tick();
    await this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    // clearTimeout clears an interval too (Node keeps one kind of timer).
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  #tick(): void {
    if (this.#running || this.#stopped) return;
    const { logger, name } = this.#options;
    this.#running = this.#options
      .run()
      .then(
        () => {
          if (this.#failingSince !== undefined) {
            logger.info({ job: name, failing_ms: Date.now() - this.#failingSince }, "periodic job recovered");
            this.#failingSince = undefined;
          }
        },
        (error: unknown) => {
          if (this.#failingSince === undefined) {
            this.#failingSince = Date.now();
            logger.error({ err: error, job: name }, "periodic job failed; retrying every interval");
          }
        },
      )
      .finally(() => {
        this.#running = undefined;
      });
  }
}
