// Connects to NATS the way every service should: retry forever (also for the first
// connection, so start-up order does not matter), log each change of connectivity once, and
// keep that connectivity as the one answer to "is the bus connected?" (readiness, heartbeats).
// A first connection that can never work (a TLS or credentials setting the server refuses)
// is not retried: it throws a NatsSetupError, which stops the service with one fatal line.
import { connect, errors, type NatsConnection, type TlsOptions } from "@nats-io/transport-node";
import type { NatsTlsFiles } from "../config/common-env.ts";
import type { Logger } from "../log/logger.ts";
import { CappedBackoff } from "../util/capped-backoff.ts";
import { permanentConnectFailure, probeTlsRefusal } from "./nats-connect-failure.ts";

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
  logger: Logger;
}

/** A NATS connection and its observed connectivity. */
export interface WatchedNatsConnection {
  readonly nc: NatsConnection;
  /** False from a disconnect until the reconnect, and for good once the connection is closed. */
  isConnected(): boolean;
}

export async function connectNats(options: NatsConnectOptions): Promise<WatchedNatsConnection> {
  const { logger } = options;
  logger.info({ servers: options.servers }, "connecting to NATS");
  const nc = await connectFirstTime(options);
  logger.info({ server: nc.getServer() }, "connected to NATS");
  const state = { connected: true };
  void followStatus(nc, logger, state);
  return { nc, isConnected: () => state.connected && !nc.isClosed() };
}

/**
 * The first connection, retried with capped backoff while the failure may be transient (each
 * attempt tries every server once); after it, the client's own reconnecting takes over.
 */
async function connectFirstTime(options: NatsConnectOptions): Promise<NatsConnection> {
  const tls = options.tls === undefined ? undefined : natsTlsOptions(options.tls);
  const backoff = new CappedBackoff({ initialMs: 500, maxMs: 5000 });
  let warned = false;
  for (;;) {
    try {
      return await connect({
        servers: [...options.servers],
        name: options.name,
        ...(options.token === undefined ? {} : { token: options.token }),
        ...(options.user === undefined ? {} : { user: options.user.user, pass: options.user.password }),
        ...(options.inboxPrefix === undefined ? {} : { inboxPrefix: options.inboxPrefix }),
        ...(tls === undefined ? {} : { tls }),
        maxReconnectAttempts: -1,
        waitOnFirstConnect: false,
        reconnectTimeWait: 1000,
        pingInterval: 10_000,
      });
    } catch (error) {
      const context = { servers: options.servers, tls: options.tls };
      const permanent =
        permanentConnectFailure(error, context) ??
        // A server refusing the client's certificate shows up as a timeout only.
        (error instanceof errors.TimeoutError ? await probeTlsRefusal(context) : undefined);
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
  state: { connected: boolean },
): Promise<void> {
  for await (const status of nc.status()) {
    switch (status.type) {
      case "disconnect":
        if (state.connected) logger.warn({ server: status.server }, "NATS connection lost; reconnecting");
        state.connected = false;
        break;
      case "reconnect":
        state.connected = true;
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
