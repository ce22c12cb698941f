// The api's Hono app as main.ts builds it, for tests that call app.request(): real Postgres,
// real NATS, real agent registry, logs and inspect clients and live hub; tests choose the rest.
import { createDeadletterSink, type Subjects } from "@crowsnest/shared";
import type { PostgresHandle } from "@crowsnest/shared/postgres";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { AgentRegistry } from "../../services/api/src/agents/agent-registry.ts";
import { type AppServices, createApp } from "../../services/api/src/app.ts";
import type { ApiDatabase } from "../../services/api/src/db/api-database.ts";
import { PreparedStatements } from "../../services/api/src/db/prepared-statements.ts";
import { createInspectClient } from "../../services/api/src/inspect/watcher-inspect-client.ts";
import { LiveHub } from "../../services/api/src/live/live-hub.ts";
import { createLogsClient } from "../../services/api/src/logs/watcher-logs-client.ts";
import { ApiMetrics } from "../../services/api/src/metrics/api-metrics.ts";

export const TEST_READ_TOKEN = "test-read-token-0123456789";
export const TEST_ADMIN_TOKEN = "test-admin-token-0123456789";

export interface TestApp {
  app: ReturnType<typeof createApp>;
  agents: AgentRegistry;
  liveHub: LiveHub;
  close(): Promise<void>;
}

export async function createTestApp(options: {
  postgres: PostgresHandle<ApiDatabase>;
  nc: NatsConnection;
  subjects: Subjects;
  overrides?: Partial<AppServices>;
}): Promise<TestApp> {
  const logger = pino({ level: "silent" });
  const js = jetstream(options.nc);
  const deadletters = createDeadletterSink({ js, subjects: options.subjects, service: "api", logger });
  const agents = new AgentRegistry({
    source: options.nc,
    subjects: options.subjects,
    deadletters,
    logger,
  });
  agents.start();
  const liveBus = { js, jsm: await jetstreamManager(options.nc), subjects: options.subjects };
  const liveHub = new LiveHub({
    bus: () => liveBus,
    maxStreams: 10,
  });
  const metrics = new ApiMetrics(
    { agents, openStreams: () => liveHub.openStreams, deadletters, maxContainers: 1000 },
    options.postgres.db,
  );
  const app = createApp({
    db: options.postgres.db,
    prepared: new PreparedStatements(options.postgres.pool),
    logger,
    readiness: { natsConnected: () => true },
    agents,
    logs: createLogsClient({
      nc: options.nc,
      subjects: options.subjects,
      timeoutMs: 1000,
      followSilenceMs: 20_000,
    }),
    inspect: createInspectClient({ nc: options.nc, subjects: options.subjects, timeoutMs: 1000 }),
    live: {
      hub: liveHub,
      heartbeatMs: 1000,
      maxBacklog: 10_000,
      maxBacklogBytes: 4 * 1024 * 1024,
      stallTimeoutMs: 15_000,
    },
    metrics,
    corsOrigins: [],
    auth: { readTokens: [TEST_READ_TOKEN], adminTokens: [TEST_ADMIN_TOKEN] },
    ...options.overrides,
  });
  return {
    app,
    agents,
    liveHub,
    async close() {
      await liveHub.closeAll();
      await agents.stop();
    },
  };
}
