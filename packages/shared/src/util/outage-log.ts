// Logs a recurring failure once when it starts and once when it ends, instead of once per
// attempt: a Docker or NATS outage of an hour must not write a line every tick.
import type { Logger } from "../log/logger.ts";

export interface OutageLogOptions {
  logger: Logger;
  /** Logged at warn on the first failure of an outage. */
  failureMessage: string;
  /** Logged at info on the first success after an outage, with its length and failure count. */
  recoveryMessage: string;
  now?: () => number;
}

export class OutageLog {
  readonly #options: OutageLogOptions;
  readonly #now: () => number;
  #startedAtMs: number | undefined;
  #failures = 0;

  constructor(options: OutageLogOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get inOutage(): boolean {
    return this.#startedAtMs !== undefined;
  }

  /** Records a failure; only the first of an outage is logged, with `fields`. */
  failed(fields: Record<string, unknown>): void {
    this.#failures += 1;
    if (this.#startedAtMs !== undefined) return;
    this.#startedAtMs = this.#now();
    this.#options.logger.warn(fields, this.#options.failureMessage);
  }

  /** Records a success; ends (and logs the end of) an outage if one is going on. */
  succeeded(fields: Record<string, unknown> = {}): void {
    if (this.#startedAtMs === undefined) return;
    this.#options.logger.info(
      { ...fields, failures: this.#failures, outage_ms: this.#now() - this.#startedAtMs },
      this.#options.recoveryMessage,
    );
    this.#startedAtMs = undefined;
    this.#failures = 0;
  }
}
