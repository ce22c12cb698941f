// The pool when Postgres ends a connection that is checked out but between queries (a restart,
// an administrator's pg_terminate_backend, while a writer holds its client): pg emits "error"
// on that client, which pg's pool listens for only while the client is idle. The process must
// stay up, and the pool go on with a new connection.
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../test/support/test-env.ts";
import { openPostgres, type PostgresHandle } from "./postgres-pool.ts";

describe("a checked-out connection that Postgres ends", () => {
  let database: TestDatabase;
  let handle: PostgresHandle<unknown>;
  let admin: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    handle = openPostgres({
      url: database.url,
      poolSize: 2,
      applicationName: "pool-test",
      onIdleError: () => {},
    });
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await handle?.destroy();
    await database?.drop();
  });

  it("does not end the process, and the next query works on a new connection", async () => {
    const client = await handle.pool.connect();
    const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
    // Not events.once: it would listen for "error" itself.
    const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    // Without a listener, the "error" emitted here is an uncaught exception (vitest fails the run).
    await ended;
    client.release(new Error("its connection ended"));
    const after = await sql<{ one: number }>`SELECT 1 AS one`.execute(handle.db);
    expect(after.rows).toEqual([{ one: 1 }]);
  });
});
