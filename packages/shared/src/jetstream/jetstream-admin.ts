// JetStream administration (streams, consumers, KV buckets) that survives a cluster electing a
// leader. In a cluster, losing a node can take the meta-leader with it: until a new one is
// elected the API has no responders (the client reports "jetstream is not enabled") or answers
// "temporarily unavailable", and the first consumer created after the election took about 11 s
// in our runs, more than the client's 5 s default timeout. So administration calls get a longer
// timeout and are retried with capped backoff for a bounded time; anything else fails at once.
import { JetStreamApiError, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { errors, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../log/logger.ts";
import { CappedBackoff } from "../util/capped-backoff.ts";

/** Per request: above the ~11 s a consumer creation took right after a meta-leader election. */
export const JETSTREAM_ADMIN_TIMEOUT_MS = 20_000;

/** How long one administration call is retried before its last error is thrown. */
export const JETSTREAM_ADMIN_RETRY_BUDGET_MS = 120_000;

/**
 * JetStream API error codes (nats-server's errors.json) that mean "no leader right now", not "no":
 * 10008 system temporarily unavailable, 10009 cluster cannot handle the request (not leader),
 * 10118/10119 stream/consumer offline, 10005 no suitable peers yet (a node is restarting).
 */
const TRANSIENT_API_CODES: ReadonlySet<number> = new Set([10_005, 10_008, 10_009, 10_118, 10_119]);

/** True for the errors a leader election produces; false for a real answer (bad config, no permission). */
export function isTransientJetStreamError(error: unknown): boolean {
  // The client's JetStreamNotEnabled is not exported, hence the name. It is also what an account
  // without JetStream gets; the bounded retry then ends with this error.
  if (error instanceof Error && error.name === "JetStreamNotEnabled") return true;
  if (error instanceof errors.TimeoutError || error instanceof errors.NoRespondersError) return true;
  if (error instanceof errors.RequestError) {
    return error.isNoResponders() || error.cause instanceof errors.TimeoutError;
  }
  if (error instanceof JetStreamApiError) return TRANSIENT_API_CODES.has(error.code) || error.status === 503;
  return false;
}

export interface AdminRetryOptions {
  logger: Logger;
  /** Total time to keep retrying; defaults to JETSTREAM_ADMIN_RETRY_BUDGET_MS. */
  budgetMs?: number;
  /** Injected for tests; defaults to the wall clock. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Runs one administration call, retrying it while the cluster has no leader. */
export async function withAdminRetry<T>(
  what: string,
  call: () => Promise<T>,
  options: AdminRetryOptions,
): Promise<T> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const giveUpAt = now() + (options.budgetMs ?? JETSTREAM_ADMIN_RETRY_BUDGET_MS);
  const backoff = new CappedBackoff({ initialMs: 250, maxMs: 5000 });
  for (;;) {
    try {
      const result = await call();
      if (backoff.failures > 0) options.logger.info({ what }, "JetStream administration call succeeded");
      return result;
    } catch (error) {
      if (!isTransientJetStreamError(error) || now() >= giveUpAt) throw error;
      if (backoff.failures === 0) {
        options.logger.warn(
          { err: error, what },
          "JetStream has no leader (cluster electing one?); retrying the administration call",
        );
      }
      await sleep(backoff.next());
    }
  }
}

/** A JetStream manager whose requests wait long enough for a freshly elected leader. */
export async function openJetStreamManager(nc: NatsConnection, logger: Logger): Promise<JetStreamManager> {
  // jetstreamManager() asks the server for the account info, which fails the same way.
  return await withAdminRetry(
    "JetStream account info",
    () => jetstreamManager(nc, { timeout: JETSTREAM_ADMIN_TIMEOUT_MS }),
    { logger },
  );
}
