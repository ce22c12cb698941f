// Connects to NATS the way every service should: retry forever (also for the first
// connection, so start-up order does not matter), log each change of connectivity once, and
// keep that connectivity as the one answer to "is the bus connected?" (readiness, heartbeats).
// A first connection that can never work (a TLS or credentials setting the server refuses)
// is not retried: it throws a NatsSetupError, which stops the service with one fatal line.
// The same refusal later, once the connection is lost, ends it the same way (`lost()`).
import {
  type ConnectionOptions,
  connect,
  errors,
  type NatsConnection,
  type TlsOptions,
} from "@nats-io/transport-node";
import type { NatsTlsFiles } from "../config/common-env.ts";
import type { NatsSetupError } from "../errors/crowsnest-error.ts";
import type { Logger } from "../log/logger.ts";
import { CappedBackoff } from "../util/capped-backoff.ts";
import { permanentConnectFailure, probeTlsRefusal } from "./nats-connect-failure.ts";
import { REFUSAL_WATCH_TIMING, watchForRefusal } from "./nats-refusal-watch.ts";

export interface NatsConnectOptions {
  servers: readonly string[];
  /** Shown in the server's connection list: `crowsnest-<service>@<host>`. */
  name: string;
  token: string | undefined;
  /** Per-host credentials; never together with a token. */
  user?: { user: string; password: string } | undefined;
  /** Where replies to this connection's requests go; per-host users may subscribe only to their own. */
  inboxPrefix?: string;
  /** Undefined: TLS only for `tls://` URLs, with the system's CAs. */
  tls?: NatsTlsFiles | undefined;
  /**
   * False: a request's error does not carry the caller's stack. The client otherwise captures
   * a stack for every request (and every JetStream publish) ahead of any failure, twice: one
   * Error for the request, one for its timer. Default true.
   */
  asyncTraces?: boolean | undefined;
  logger: Logger;
}

/** A NATS connection and its observed connectivity. */
export interface WatchedNatsConnection {
  readonly nc: NatsConnection;
  /** False from a disconnect until the reconnect, and for good once the connection is closed. */
  isConnected(): boolean;
  /**
   * Settles when the connection is gone for good: closed (drained, or the client gave up, e.g.
   * the server refused its credentials twice in a row), or refused since it was lost the way
   * NATS refuses a first connection that can never work (confirmed twice in a row; the client
   * then keeps reconnecting until the service exits). With the reason: a NatsSetupError
   * (`nats_tls`, `nats_auth`) for a refusal, the client's error for another, undefined for a
   * closing asked for.
   */
  lost(): Promise<Error | undefined>;
}

export async function connectNats(options: NatsConnectOptions): Promise<WatchedNatsConnection> {
  const { logger } = options;
  logger.info({ servers: options.servers }, "connecting to NATS");
  const nc = await connectFirstTime(options);
  logger.info({ server: nc.getServer() }, "connected to NATS");
  const state = { connected: true, connectedAtMs: Date.now() };
  let refused: (refusal: NatsSetupError) => void = () => undefined;
  const refusal = new Promise<NatsSetupError>((resolve) => {
    refused = resolve;
  });
  let refusalsInARow = 0;
  const watchRefusals = async () => {
    // Back only for moments since the last loss: its refusals still count.
    const backForMs = Date.now() - state.connectedAtMs;
    const { firstAttemptAfterMs, attemptEveryMs } = REFUSAL_WATCH_TIMING;
    const outcome = await watchForRefusal({
      // An attempt that throws (it should not) tells nothing: the watch goes on.
      attempt: () => attemptOnce(options).catch(() => undefined),
      isLost: () => !state.connected && !nc.isClosed(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      logger,
      refusalsBefore: backForMs < firstAttemptAfterMs + attemptEveryMs ? refusalsInARow : 0,
    });
    refusalsInARow = outcome.inARow;
    // Left open: closing it would fail whatever the service awaits on it before the service
    // exits saying why.
    if (outcome.refusal !== undefined) refused(outcome.refusal);
  };
  void followStatus(nc, logger, state, watchRefusals);
  const context = { servers: options.servers, tls: options.tls };
  const closed = nc
    .closed()
    // The client's own reason (credentials refused twice) said as a first connection's would be.
    .then((reason) =>
      reason instanceof Error ? (permanentConnectFailure(reason, context) ?? reason) : undefined,
    );
  return {
    nc,
    isConnected: () => state.connected && !nc.isClosed(),
    lost: () => Promise.race([refusal, closed]),
  };
}

/** The client's options for these settings; the first connection's attempts add their retry settings. */
export function natsClientOptions(options: NatsConnectOptions): ConnectionOptions {
  const tls = options.tls === undefined ? undefined : natsTlsOptions(options.tls);
  return {
    servers: [...options.servers],
    name: options.name,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.user === undefined ? {} : { user: options.user.user, pass: options.user.password }),
    ...(options.inboxPrefix === undefined ? {} : { inboxPrefix: options.inboxPrefix }),
    ...(tls === undefined ? {} : { tls }),
    ...(options.asyncTraces === false ? { noAsyncTraces: true } : {}),
  };
}

/** The permanent failure a connection attempt's error stands for, or undefined if it may pass. */
async function refusalIn(error: unknown, options: NatsConnectOptions): Promise<NatsSetupError | undefined> {
  const context = { servers: options.servers, tls: options.tls };
  return (
    permanentConnectFailure(error, context) ??
    // A server refusing the client's certificate shows up as a timeout only.
    (error instanceof errors.TimeoutError ? await probeTlsRefusal(context) : undefined)
  );
}

/** One connection with the service's settings (every server tried once), closed at once. */
async function attemptOnce(options: NatsConnectOptions): Promise<NatsSetupError | undefined> {
  try {
    const probe = await connect({ ...natsClientOptions(options), reconnect: false, timeout: 10_000 });
    await probe.close();
    return undefined;
  } catch (error) {
    return refusalIn(error, options);
  }
}

/**
 * The first connection, retried with capped backoff while the failure may be transient (each
 * attempt tries every server once); after it, the client's own reconnecting takes over.
 */
async function connectFirstTime(options: NatsConnectOptions): Promise<NatsConnection> {
  const backoff = new CappedBackoff({ initialMs: 500, maxMs: 5000 });
  let warned = false;
  for (;;) {
    try {
      return await connect({
        ...natsClientOptions(options),
        maxReconnectAttempts: -1,
        waitOnFirstConnect: false,
        reconnectTimeWait: 1000,
        pingInterval: 10_000,
      });
    } catch (error) {
      const permanent = await refusalIn(error, options);
      if (permanent !== undefined) throw permanent;
      if (!warned) {
        options.logger.warn({ err: error }, "cannot connect to NATS yet; retrying until it answers");
        warned = true;
      }
      await new Promise((resolve) => setTimeout(resolve, backoff.next()));
    }
  }
}

/** The client's TLS options: setting them makes the client require TLS of every server. */
export function natsTlsOptions(files: NatsTlsFiles): TlsOptions {
  return {
    ...(files.caFile === undefined ? {} : { caFile: files.caFile }),
    ...(files.certFile === undefined ? {} : { certFile: files.certFile }),
    ...(files.keyFile === undefined ? {} : { keyFile: files.keyFile }),
  };
}

async function followStatus(
  nc: NatsConnection,
  logger: Logger,
  state: { connected: boolean; connectedAtMs: number },
  whileLost: () => Promise<void>,
): Promise<void> {
  let watching = false;
  for await (const status of nc.status()) {
    switch (status.type) {
      case "disconnect":
        if (state.connected) logger.warn({ server: status.server }, "NATS connection lost; reconnecting");
        state.connected = false;
        // One watch per loss: it ends when the connection is back.
        if (!watching) {
          watching = true;
          void whileLost().finally(() => {
            watching = false;
          });
        }
        break;
      case "reconnect":
        state.connected = true;
        state.connectedAtMs = Date.now();
        logger.info({ server: status.server }, "NATS connection restored");
        break;
      case "error":
        logger.error({ err: status.error }, "NATS server reported an error");
        break;
      case "slowConsumer":
        logger.warn({ subject: status.sub.getSubject(), pending: status.pending }, "NATS slow consumer");
        break;
      case "staleConnection":
        logger.warn("NATS connection stale; reconnecting");
        break;
      default:
        // reconnecting, ping, update, ldm, close: routine, and already covered by the lines above.
        break;
    }
  }
}
