// Capped exponential backoff for reconnecting, republishing and retrying a dependency: initial delay, doubled per
// failure up to a ceiling, back to the start after a success. No jitter: each agent has one
// runtime and each service few connections, so there is no herd of clients to spread out.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export class CappedBackoff {
  readonly #options: BackoffOptions;
  #failures = 0;

  constructor(options: BackoffOptions) {
    this.#options = options;
  }

  /** Failures since the last reset. */
  get failures(): number {
    return this.#failures;
  }

  /** Records a failure and returns how long to wait before the next attempt. */
  next(): number {
    // Capping the exponent keeps 2 ** n finite however long an outage lasts.
    const exponent = Math.min(this.#failures, 30);
    this.#failures += 1;
    return Math.min(this.#options.initialMs * 2 ** exponent, this.#options.maxMs);
  }

  reset(): void {
    this.#failures = 0;
  }
}
