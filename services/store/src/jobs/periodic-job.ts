// Runs a piece of periodic work (rollups, retention, alert sweeps) at start and then every
// interval. A tick that comes while the previous run is still going is skipped; a failure is
// logged once until a run succeeds again, not once per tick.
import type { Logger } from "@crowsnest/shared";

export interface PeriodicJobOptions {
  name: string;
  intervalMs: number;
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
    this.#timer = setInterval(() => this.#tick(), this.#options.intervalMs);
  }

  /** Runs now unless a run is going; resolves when that run (or the one going) ends. */
  async runNow(): Promise<void> {
    this.#tick();
    await this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
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
