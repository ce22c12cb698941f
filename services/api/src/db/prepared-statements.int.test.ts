// Named prepared statements against real Postgres: a text is prepared once per connection and
// answers each request's parameters; texts past the limit still run, unnamed.
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import { CompiledQuery } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../test/support/test-env.ts";
import { PreparedStatements } from "./prepared-statements.ts";

describe("prepared statements", () => {
  let database: TestDatabase;
  let postgres: PostgresHandle<unknown>;

  beforeAll(async () => {
    database = await createTestDatabase();
    postgres = openPostgres({
      url: database.url,
      poolSize: 1,
      applicationName: "prepared-test",
      onIdleError: () => {},
    });
  });

  afterAll(async () => {
    await postgres?.destroy();
    await database?.drop();
  });

  const preparedNames = async () =>
    (
      await postgres.pool.query<{ name: string }>(
        "SELECT name FROM pg_prepared_statements WHERE name LIKE 'crowsnest_api_%' ORDER BY name",
      )
    ).rows.map((row) => row.name);

  it("prepares a text once and runs it with each call's parameters", async () => {
    const statements = new PreparedStatements(postgres.pool);
    const twice = CompiledQuery.raw("SELECT $1::int * 2 AS n", [21]);
    expect(await statements.query(twice)).toEqual([{ n: 42 }]);
    expect(await statements.query(CompiledQuery.raw(twice.sql, [5]))).toEqual([{ n: 10 }]);
    // One connection in the pool: the statement prepared on it is the one the second call used.
    expect(await preparedNames()).toHaveLength(1);
  });

  it("runs texts beyond the first 64 unnamed, with their results", async () => {
    const statements = new PreparedStatements(postgres.pool);
    for (let n = 0; n < 70; n++) {
      expect(await statements.query(CompiledQuery.raw(`SELECT $1::int + ${n} AS n`, [1]))).toEqual([
        { n: n + 1 },
      ]);
    }
    // The first test's statement and 64 of these.
    expect(await preparedNames()).toHaveLength(65);
    // Another instance on the same pool names the same text the same way.
    const again = new PreparedStatements(postgres.pool);
    expect(await again.query(CompiledQuery.raw("SELECT $1::int * 2 AS n", [4]))).toEqual([{ n: 8 }]);
    expect(await preparedNames()).toHaveLength(65);
  });
});
