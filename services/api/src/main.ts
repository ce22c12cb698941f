// The api's composition root: Postgres, the HTTP server, then the bus (heartbeat, readiness).
//
// The server listens before NATS first answers: /healthz is then 200 (the process serves, so a
// liveness probe does not restart it in a loop) and /readyz a 503 naming NATS. What needs the
// bus (live streams, logs, agents, dead letters) reaches it through `connected`, and answers 503
// or an empty list until it is there; routes over Postgres serve meanwhile. A port it cannot
// listen on is one fatal log line and exit 1, as is losing the NATS connection for good once
// it was there (service-lifecycle.ts); what it opened is released in reverse order on shutdown.
import type { Server } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import {
  type Bus,
  createDeadletterSink,
  createLogger,
  type DeadletterSink,
  type Heartbeat,
  type Logger,
  NatsSetupError,
  openBus,
  runService,
  type ServiceLifecycle,
  startHeartbeat,
  zeroDeadletterCounts,
} from "@crowsnest/shared";
import { openPostgres } from "@crowsnest/shared/postgres";
import { abortableSleep } from "@crowsnest/shared/util/abortable-sleep";
import { CappedBackoff } from "@crowsnest/shared/util/capped-backoff";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type AgentDirectory, AgentRegistry } from "./agents/agent-registry.ts";
import { createApp } from "./app.ts";
import { type ApiConfig, readConfig } from "./config.ts";
import type { ApiDatabase } from "./db/api-database.ts";
import { PreparedStatements } from "./db/prepared-statements.ts";
import { createApiServer } from "./http/api-server.ts";
import { createInspectClient, type InspectClient } from "./inspect/watcher-inspect-client.ts";
import { LiveHub } from "./live/live-hub.ts";
import { createLogsClient, type LogsClient, type LogsFailure } from "./logs/watcher-logs-client.ts";
import { ApiMetrics } from "./metrics/api-metrics.ts";

/** Everything built on the bus, once NATS has answered and the streams exist. */
interface Connected {
  bus: Bus;
  jsm: JetStreamManager;
  agents: AgentRegistry;
  deadletters: DeadletterSink;
  logs: LogsClient;
  inspect: InspectClient;
  heartbeat: Heartbeat;
}

const NOT_CONNECTED: LogsFailure = {
  ok: false,
  code: "watcher_unavailable",
  message: "the api is not connected to NATS yet, so no watcher can be asked",
};
const NO_DEADLETTERS: DeadletterSink["counts"] = zeroDeadletterCounts();

runService("api", async (lifecycle) => {
  const config = readConfig();
  const logger = createLogger({ service: "api", level: config.common.logLevel, host: config.hostName });
  lifecycle.configure({ logger, shutdownTimeoutMs: config.common.shutdownTimeoutMs });
  const database = openPostgres<ApiDatabase>({
    url: config.databaseUrl,
    poolSize: config.databasePoolSize,
    applicationName: `crowsnest-api@${config.hostName}`,
    onIdleError: (error) => logger.warn({ err: error }, "idle Postgres connection failed"),
  });
  lifecycle.defer("Postgres pool", () => database.destroy());

  let connected: Connected | undefined;
  // Deferred before the server, so released after it: live streams end before the bus closes.
  lifecycle.defer("NATS connection", async () => {
    await connected?.bus.drain();
  });
  const agents: AgentDirectory = { list: (nowMs) => connected?.agents.list(nowMs) ?? [] };

  if (!config.auth) logger.warn("CROWSNEST_API_AUTH_DISABLED=true: every route is served without a token");
  const liveHub = new LiveHub({
    bus: () => connected && { js: connected.bus.js, jsm: connected.jsm, subjects: connected.bus.subjects },
    maxStreams: config.live.maxStreams,
  });
  const metrics = new ApiMetrics(
    {
      agents,
      openStreams: () => liveHub.openStreams,
      deadletters: {
        get counts() {
          return connected?.deadletters.counts ?? NO_DEADLETTERS;
        },
      },
      maxContainers: config.metricsMaxContainers,
    },
    database.db,
  );
  const app = createApp({
    db: database.db,
    prepared: new PreparedStatements(database.pool),
    logger,
    // Ready once everything on the bus is built and the connection is up now.
    readiness: { natsConnected: () => connected?.bus.isConnected() ?? false },
    agents,
    metrics,
    live: {
      hub: liveHub,
      heartbeatMs: config.live.heartbeatMs,
      maxBacklog: config.live.maxBacklog,
      maxBacklogBytes: config.live.maxBacklogBytes,
      stallTimeoutMs: config.live.stallTimeoutMs,
    },
    logs: {
      fetch: (host, request) => connected?.logs.fetch(host, request) ?? Promise.resolve(NOT_CONNECTED),
      follow: (host, request) => connected?.logs.follow(host, request) ?? Promise.resolve(NOT_CONNECTED),
    },
    inspect: {
      inspect: (host, container) =>
        connected?.inspect.inspect(host, container) ?? Promise.resolve(NOT_CONNECTED),
    },
    corsOrigins: config.corsOrigins,
    auth: config.auth,
    // The dashboard package's build output, wherever the workspace (or the image) put it.
    dashboardDir: join(
      dirname(createRequire(import.meta.url).resolve("@crowsnest/dashboard/package.json")),
      "dist",
    ),
  });
  const api = createApiServer({ fetch: app.fetch, logger });
  await listen(api.server, config, logger);
  lifecycle.defer("HTTP server", async () => {
    // Stop accepting connections, end live streams (they would never finish on their own), and
    // let the requests in flight finish. A live stream whose client takes nothing would hold the
    // server open for its grace period; half the shutdown time in, what is still open is closed
    // (its client resumes).
    const stopped = api.shutdown(config.common.shutdownTimeoutMs / 2);
    await liveHub.closeAll();
    await stopped;
  });

  connected = await connectBus(config, logger, lifecycle);
  if (connected === undefined) return;
  const { bus, agents: registry, heartbeat } = connected;
  lifecycle.exitWhenLost("NATS connection", bus.closed());
  lifecycle.defer("agent registry", () => registry.stop());
  lifecycle.defer("heartbeat", () => heartbeat.stop());
  logger.info("api connected to the bus");
});

/** Listens on the configured address; a port in use or not allowed fails the start. */
async function listen(server: Server, config: ApiConfig, logger: Logger): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.listenHost, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address !== null && typeof address === "object") {
    logger.info({ address: address.address, port: address.port }, "api listening");
  }
}

/** Connects to NATS and ensures the streams, retrying (capped backoff) until it works or the api stops. */
async function connectBus(
  config: ApiConfig,
  logger: Logger,
  lifecycle: ServiceLifecycle,
): Promise<Connected | undefined> {
  const stopped = new AbortController();
  void lifecycle.stopRequested.then(() => stopped.abort());
  const backoff = new CappedBackoff({ initialMs: 2000, maxMs: 30_000 });
  let lastProblem: string | undefined;
  for (let attempt = 1; !lifecycle.stopping; attempt++) {
    try {
      // Waits for the first connection itself (every reconnect wait), however long NATS is away.
      const bus = await openBus({ config: config.common, service: "api", host: config.hostName, logger });
      if (lifecycle.stopping) {
        await bus.drain();
        return undefined;
      }
      const jsm = await jetstreamManager(bus.nc);
      const deadletters = createDeadletterSink({
        js: bus.js,
        // Dead letters are cut to the server's own max payload.
        nc: bus.nc,
        subjects: bus.subjects,
        service: "api",
        logger,
      });
      const registry = new AgentRegistry({ source: bus.nc, subjects: bus.subjects, deadletters, logger });
      registry.start();
      return {
        bus,
        jsm,
        agents: registry,
        deadletters,
        logs: createLogsClient({
          nc: bus.nc,
          subjects: bus.subjects,
          timeoutMs: config.rpcTimeoutMs,
          followSilenceMs: config.logsFollowSilenceMs,
        }),
        inspect: createInspectClient({ nc: bus.nc, subjects: bus.subjects, timeoutMs: config.rpcTimeoutMs }),
        heartbeat: startHeartbeat({
          nc: bus.nc,
          subjects: bus.subjects,
          host: config.hostName,
          service: "api",
          runtime: null,
          intervalMs: config.common.heartbeatIntervalMs,
          livenessFile: config.common.livenessFile,
          isConnected: () => bus.isConnected(),
          logger,
        }),
      };
    } catch (error) {
      // A TLS or credentials setting NATS refuses never starts working: the api exits saying so.
      if (error instanceof NatsSetupError) throw error;
      // The streams could not be ensured (JetStream off, or not yet elected): logged once per cause.
      const problem = (error as Error).message;
      if (problem !== lastProblem)
        logger.error({ err: error, attempt }, "could not set up the bus; retrying");
      lastProblem = problem;
      await abortableSleep(backoff.next(), stopped.signal);
    }
  }
  return undefined;
}
