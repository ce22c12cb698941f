// The api's composition root: Postgres, the bus (heartbeat, readiness), the HTTP server.
import {
  createDeadletterSink,
  createLogger,
  exitOnShutdownSignal,
  loadConfigOrExit,
  openBus,
  startHeartbeat,
} from "@crowsnest/shared";
import { openPostgres } from "@crowsnest/shared/postgres";
import { jetstreamManager } from "@nats-io/jetstream";
import { AgentRegistry } from "./agents/agent-registry.ts";
import { createApp } from "./app.ts";
import { readConfig } from "./config.ts";
import type { ApiDatabase } from "./db/api-database.ts";
import { createApiServer } from "./http/api-server.ts";
import { LiveHub } from "./live/live-hub.ts";
import { createLogsClient } from "./logs/watcher-logs-client.ts";
import { ApiMetrics } from "./metrics/api-metrics.ts";

const config = loadConfigOrExit("api", readConfig);
const logger = createLogger({ service: "api", level: config.common.logLevel, host: config.hostName });
const database = openPostgres<ApiDatabase>({
  url: config.databaseUrl,
  poolSize: config.databasePoolSize,
  applicationName: `crowsnest-api@${config.hostName}`,
  onIdleError: (error) => logger.warn({ err: error }, "idle Postgres connection failed"),
});
const bus = await openBus({ config: config.common, service: "api", host: config.hostName, logger });
let natsConnected = true;
void (async () => {
  for await (const status of bus.nc.status()) {
    if (status.type === "disconnect") natsConnected = false;
    if (status.type === "reconnect") natsConnected = true;
  }
})();

const deadletters = createDeadletterSink({ js: bus.js, subjects: bus.subjects, service: "api", logger });
const agents = new AgentRegistry({ source: bus.nc, subjects: bus.subjects, deadletters, logger });
agents.start();

if (!config.auth) logger.warn("CROWSNEST_API_AUTH_DISABLED=true: every route is served without a token");
const liveHub = new LiveHub({
  bus: { js: bus.js, jsm: await jetstreamManager(bus.nc), subjects: bus.subjects },
  maxStreams: config.live.maxStreams,
});
const metrics = new ApiMetrics(
  {
    agents,
    openStreams: () => liveHub.openStreams,
    deadletters,
    maxContainers: config.metricsMaxContainers,
  },
  database.db,
);
const app = createApp({
  db: database.db,
  logger,
  readiness: { natsConnected: () => natsConnected },
  agents,
  metrics,
  live: {
    hub: liveHub,
    heartbeatMs: config.live.heartbeatMs,
    maxBacklog: config.live.maxBacklog,
    maxBacklogBytes: config.live.maxBacklogBytes,
    stallTimeoutMs: config.live.stallTimeoutMs,
  },
  logs: createLogsClient({
    nc: bus.nc,
    subjects: bus.subjects,
    timeoutMs: config.rpcTimeoutMs,
    followSilenceMs: config.logsFollowSilenceMs,
  }),
  corsOrigins: config.corsOrigins,
  auth: config.auth,
});
const server = createApiServer({ fetch: app.fetch, logger });
server.listen(config.port, config.listenHost, () => {
  const address = server.address();
  if (address !== null && typeof address === "object") {
    logger.info({ address: address.address, port: address.port }, "api listening");
  }
});
const heartbeat = startHeartbeat({
  nc: bus.nc,
  subjects: bus.subjects,
  host: config.hostName,
  service: "api",
  runtime: null,
  intervalMs: config.common.heartbeatIntervalMs,
  livenessFile: config.common.livenessFile,
  isConnected: () => natsConnected,
  logger,
});

exitOnShutdownSignal({
  logger,
  timeoutMs: config.common.shutdownTimeoutMs,
  stop: async () => {
    heartbeat.stop();
    await agents.stop();
    // Stop accepting connections, end live streams (they would never finish on their own),
    // and let other requests in flight finish.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await liveHub.closeAll();
    await closed;
    await bus.drain();
    await database.destroy();
  },
});
