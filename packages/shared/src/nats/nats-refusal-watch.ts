// Once connected, the NATS client reconnects by itself and says nothing about why a reconnect
// fails: a server whose certificate this service no longer trusts, or that now requires a client
// certificate it lacks, is retried forever without a word (credentials it refuses twice in a row
// close the connection, which nats.js does on its own). While the connection is lost, this watch
// asks why now and then, with one connection attempt of its own with the service's settings,
// classified as a first connection's failure is (nats-connect-failure.ts). Each refusal only a
// change of configuration mends is logged as an error with its code (`nats_tls`, `nats_auth`);
// one seen on `confirmations` attempts in a row ends the watch with that failure, and the service
// then exits 1 as it would at start, so its supervisor shows it and its restart reads the
// certificates and credentials files again. A failure that may pass (a server down, a refused
// port) resets the count.
import type { NatsSetupError } from "../errors/crowsnest-error.ts";
import type { Logger } from "../log/logger.ts";

/** Waits while the connection is lost before a first attempt (a restarting server is back by then), and between attempts. */
export const REFUSAL_WATCH_TIMING = { firstAttemptAfterMs: 5000, attemptEveryMs: 10_000, confirmations: 2 };

export interface RefusalWatchOptions {
  /** One connection attempt with the service's settings: the refusal it met, or undefined (connected, or a failure that may pass). */
  attempt(): Promise<NatsSetupError | undefined>;
  /** True while the service's own connection is lost (false once reconnected or closed). */
  isLost(): boolean;
  sleep(ms: number): Promise<void>;
  logger: Logger;
  timing?: typeof REFUSAL_WATCH_TIMING;
  /**
   * Refusals in a row from the loss just before, when the connection was back only for moments
   * in between (a server that accepts the TLS handshake, then drops a client whose certificate
   * it refuses, looks connected for a moment each time).
   */
  refusalsBefore?: number;
}

export interface RefusalWatchOutcome {
  /** The refusal once confirmed; undefined when the connection came back (or closed) first. */
  refusal: NatsSetupError | undefined;
  /** Refusals in a row when the watch ended. */
  inARow: number;
}

/** Watches until a refusal is confirmed, or the connection is back (or closed). */
export async function watchForRefusal(options: RefusalWatchOptions): Promise<RefusalWatchOutcome> {
  const timing = options.timing ?? REFUSAL_WATCH_TIMING;
  let inARow = options.refusalsBefore ?? 0;
  await options.sleep(timing.firstAttemptAfterMs);
  while (options.isLost()) {
    const refusal = await options.attempt();
    if (!options.isLost()) break;
    if (refusal === undefined) {
      inARow = 0;
    } else {
      inARow += 1;
      const confirmed = inARow >= timing.confirmations;
      options.logger.error(
        { code: refusal.code, refusals_in_a_row: inARow },
        `NATS refuses this service since the connection was lost: ${refusal.message}${confirmed ? "" : "; exiting if it is refused again"}`,
      );
      if (confirmed) return { refusal, inARow };
    }
    await options.sleep(timing.attemptEveryMs);
  }
  return { refusal: undefined, inARow };
}
