// What a runtime's event source says while its stream is away: one warning when an outage
// begins, debug lines for the retries, one info line with the outage's length when the stream
// is back. And the one chain its events are handled on, one task after the other.
import type { Logger } from "@crowsnest/shared/agent";
import type { CappedBackoff } from "@crowsnest/shared/util/capped-backoff";

export class StreamOutage {
  readonly #logger: Logger;
  readonly #backoff: CappedBackoff;
  /** When the current outage began; undefined while connected (or before the first attempt). */
  #sinceMs: number | undefined;

  constructor(logger: Logger, backoff: CappedBackoff) {
    this.#logger = logger;
    this.#backoff = backoff;
  }

  get ongoing(): boolean {
    return this.#sinceMs !== undefined;
  }

  failed(error: unknown, message: string): void {
    if (this.#sinceMs === undefined) {
      this.#sinceMs = Date.now();
      // Once per outage; the retries are debug.
      this.#logger.warn({ err: error }, `${message}; reconnecting with backoff`);
    } else {
      this.#logger.debug({ err: error, failures: this.#backoff.failures }, message);
    }
  }

  /** The stream is back at `atMs`: says how long it was away, if it was. */
  recovered(atMs: number, message: string, fields: Record<string, unknown> = {}): void {
    if (this.#sinceMs === undefined) return;
    this.#logger.info(
      { outage_ms: atMs - this.#sinceMs, attempts: this.#backoff.failures, ...fields },
      message,
    );
    this.#sinceMs = undefined;
  }
}

/** Runs tasks one after the other, in the order they were scheduled; a failing one is logged. */
export class SerialTasks {
  readonly #logger: Logger;
  #chain: Promise<void> = Promise.resolve();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  schedule(task: () => Promise<void> | void, what: string): void {
    this.#chain = this.#chain
      .then(task)
      .catch((error: unknown) => this.#logger.error({ err: error }, `${what} failed`));
  }

  /** Resolves once every task scheduled so far has run. */
  idle(): Promise<void> {
    return this.#chain;
  }
}
