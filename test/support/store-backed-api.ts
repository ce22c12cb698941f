// The api's app over a database the real store process fills: for tests that publish what a
// collector or watcher would, wait for the store, and read it back through app.request().
import { createSubjects, type Subjects } from "@crowsnest/shared";
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { AppServices } from "../../services/api/src/app.ts";
import type { ApiDatabase } from "../../services/api/src/db/api-database.ts";
import { createTestApp, TEST_READ_TOKEN, type TestApp } from "./api-app.ts";
import { deleteTestStreams } from "./bus-fixtures.ts";
import { type ServiceProcess, startService } from "./service-process.ts";
import {
  connectTestNats,
  createTestDatabase,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from "./test-env.ts";

export interface StoreBackedApi {
  subjects: Subjects;
  nc: NatsConnection;
  js: JetStreamClient;
  postgres: PostgresHandle<ApiDatabase>;
  store: ServiceProcess;
  testApp: TestApp;
  /** A request with a token (the read token unless another is given); the body parsed as JSON when there is one. */
  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { body?: unknown; token?: string },
  ): Promise<{ status: number; body: T }>;
  /** Rows in a table, for waiting until the store has written what a test published. */
  count(table: "container_stats" | "container_events" | "containers" | "host_stats"): Promise<number>;
  close(): Promise<void>;
}

export async function startStoreBackedApi(
  options: { storeEnv?: Record<string, string>; appOverrides?: Partial<AppServices> } = {},
): Promise<StoreBackedApi> {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  const database: TestDatabase = await createTestDatabase();
  const store = startService("store", {
    CROWSNEST_DATABASE_URL: database.url,
    CROWSNEST_NATS_URL: natsUrl(),
    CROWSNEST_SUBJECT_PREFIX: prefix,
    CROWSNEST_INGEST_BATCH_WAIT_MS: "20",
    ...options.storeEnv,
  });
  await store.waitForLog((record) => record.msg === "store started");
  const nc = await connectTestNats();
  const postgres = openPostgres<ApiDatabase>({
    url: database.url,
    poolSize: 4,
    applicationName: "api-test",
    onIdleError: () => undefined,
  });
  const testApp = await createTestApp({
    postgres,
    nc,
    subjects,
    ...(options.appOverrides ? { overrides: options.appOverrides } : {}),
  });
  return {
    subjects,
    nc,
    js: jetstream(nc),
    postgres,
    store,
    testApp,
    async call<T>(method: string, path: string, request: { body?: unknown; token?: string } = {}) {
      const response = await testApp.app.request(path, {
        method,
        headers: {
          Authorization: `Bearer ${request.token ?? TEST_READ_TOKEN}`,
          "Content-Type": "application/json",
        },
        ...(request.body === undefined
          ? {}
          : { body: typeof request.body === "string" ? request.body : JSON.stringify(request.body) }),
      });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
    },
    async count(table) {
      const row = await postgres.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async close() {
      await testApp.close();
      await postgres.destroy();
      await store.stop();
      await deleteTestStreams(nc, prefix);
      await nc.close();
      await database.drop();
    },
  };
}
