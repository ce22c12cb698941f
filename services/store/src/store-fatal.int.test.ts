// The store as it ships (its own process) when it cannot run: a startup failure it cannot retry
// past, and the NATS connection closed for good while it runs. Either way it exits 1 with exactly
// one JSON fatal line and no raw output (no stack trace), so that its supervisor restarts it.
import { createSubjects, DEFAULT_STREAM_RETENTION, streamDefinitions } from "@crowsnest/shared";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams } from "../../../test/support/bus-fixtures.ts";
import {
  createPrivateNatsServer,
  type PrivateNatsServer,
} from "../../../test/support/private-nats-server.ts";
import { type ServiceProcess, startService } from "../../../test/support/service-process.ts";
import {
  connectTestNats,
  createTestDatabase,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../test/support/test-env.ts";

function expectOneFatalLine(store: ServiceProcess): Record<string, unknown> {
  const fatal = store.logs.filter((record) => record.level === "fatal");
  expect(fatal).toHaveLength(1);
  expect(store.otherOutput).toEqual([]);
  return fatal[0] ?? {};
}

describe("the store when it cannot run", () => {
  let database: TestDatabase;
  let nc: NatsConnection;
  const prefix = testSubjectPrefix();

  beforeAll(async () => {
    database = await createTestDatabase();
    nc = await connectTestNats();
  });

  afterAll(async () => {
    await deleteTestStreams(nc, prefix);
    await nc?.close();
    await database?.drop();
  });

  it("exits 1 with one fatal line when its telemetry stream exists with a storage it cannot change", async () => {
    // Memory storage where the store needs file storage: JetStream refuses to change a stream's
    // storage, so no retry could help; someone has to delete or migrate the stream.
    const [telemetry] = streamDefinitions(createSubjects(prefix), DEFAULT_STREAM_RETENTION);
    if (telemetry === undefined) throw new Error("no telemetry stream definition");
    await (await jetstreamManager(nc)).streams.add({ ...telemetry.config, storage: StorageType.Memory });

    const store = startService("store", {
      CROWSNEST_DATABASE_URL: database.url,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
    });
    expect(await store.exited).toBe(1);
    const fatal = expectOneFatalLine(store);
    expect(fatal.msg).toBe("store failed");
    expect(JSON.stringify(fatal.err)).toMatch(/storage/i);
    expect(store.logs.some((record) => record.msg === "store started")).toBe(false);
  });
});

describe("the store when its NATS connection closes for good", () => {
  let database: TestDatabase;
  let server: PrivateNatsServer;
  let store: ServiceProcess | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await createPrivateNatsServer();
    await server.start({ token: "store-token-before" });
  });

  afterAll(async () => {
    await store?.stop();
    await server?.dispose();
    await database?.drop();
  });

  it("exits 1 with one fatal line once the server refuses its token", async () => {
    store = startService("store", {
      CROWSNEST_DATABASE_URL: database.url,
      CROWSNEST_NATS_URL: server.url,
      CROWSNEST_NATS_TOKEN: "store-token-before",
      CROWSNEST_SUBJECT_PREFIX: testSubjectPrefix(),
    });
    await store.waitForLog((record) => record.msg === "store started", 60_000);
    // The server returns with a rotated token: the client is refused twice and gives up.
    await server.stop();
    await server.start({ token: "store-token-after" });

    expect(await store.exited).toBe(1);
    const fatal = expectOneFatalLine(store);
    expect(fatal.msg).toBe("NATS connection closed for good; exiting so that store is restarted");
    expect(JSON.stringify(fatal.err)).toMatch(/authorization/i);
  }, 90_000);
});
