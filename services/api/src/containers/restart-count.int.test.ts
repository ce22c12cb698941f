// Restart counting against real Postgres, on event sequences as each runtime's watcher
// publishes them: Docker's restart policy and `docker restart`, a Kubernetes container whose
// kubelet restarted it (a start, a die and a restart event per restart, and restart events
// alone for the restarts the watcher missed), and the window's edge.
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../test/support/test-env.ts";
import type { StoreDatabase } from "../../../store/src/db/database.ts";
import { migrateToLatest } from "../../../store/src/db/migrations.ts";
import type { ApiDatabase } from "../db/api-database.ts";
import { countRestarts } from "./restart-count.ts";

const at = (time: string) => `2026-11-21T${time}Z`;

describe("restart counting", () => {
  let database: TestDatabase;
  let postgres: PostgresHandle<ApiDatabase>;
  const ids: Record<string, number> = {};

  const container = async (name: string, runtime: string, events: [string, string][]) => {
    const inserted = await sql<{ id: number }>`
      INSERT INTO containers (host, runtime, external_id, name, last_seen)
      VALUES ('h1', ${runtime}, ${`ext-${name}`}, ${name}, now()) RETURNING id`.execute(postgres.db);
    const id = Number(inserted.rows[0]?.id);
    ids[name] = id;
    for (const [action, time] of events) {
      await sql`
        INSERT INTO container_events (event_id, container_id, ts, kind, action, synthesized)
        VALUES (${`${name}/${action}/${time}`}, ${id}, ${at(time)}::timestamptz, 'container', ${action}, false)`.execute(
        postgres.db,
      );
    }
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    postgres = openPostgres<ApiDatabase>({
      url: database.url,
      poolSize: 2,
      applicationName: "restart-count-test",
      onIdleError: () => undefined,
    });
    await migrateToLatest((postgres as unknown as PostgresHandle<StoreDatabase>).db);
    // Restarted twice by its restart policy: die, start.
    await container("policy", "docker", [
      ["create", "10:00:00"],
      ["start", "10:00:01"],
      ["die", "10:01:00"],
      ["start", "10:01:01"],
      ["die", "10:02:00"],
      ["start", "10:02:01"],
    ]);
    // `docker restart` once: kill, die, stop, start, restart — one restart, not two.
    await container("manual", "docker", [
      ["start", "10:00:00"],
      ["kill", "10:05:00"],
      ["die", "10:05:01"],
      ["stop", "10:05:02"],
      ["start", "10:05:03"],
      ["restart", "10:05:04"],
    ]);
    // Started once and running: no restart.
    await container("steady", "docker", [["start", "10:00:00"]]);
    // Kubernetes: restart 1 seen as it happened (die, start, restart); restarts 2 and 3 only
    // as restart events, the watcher having been down.
    await container("pod", "kubernetes", [
      ["start", "10:00:00"],
      ["die", "10:10:00"],
      ["start", "10:10:05"],
      ["restart", "10:10:05"],
      ["restart", "10:30:00"],
      ["restart", "10:30:01"],
    ]);
  });

  afterAll(async () => {
    await postgres?.destroy();
    await database?.drop();
  });

  it("counts new runs: a start after a die (Docker), a restart event (Kubernetes)", async () => {
    const counts = await countRestarts(postgres.db, Object.values(ids), new Date(at("00:00:00")));
    expect(Object.fromEntries(Object.entries(ids).map(([name, id]) => [name, counts.get(id) ?? 0]))).toEqual({
      policy: 2,
      manual: 1,
      steady: 0,
      pod: 3,
    });
  });

  it("counts only restarts at or after `since`, a die before it still making a start one", async () => {
    const counts = await countRestarts(postgres.db, Object.values(ids), new Date(at("10:02:01")));
    expect(counts.get(ids.policy ?? 0)).toBe(1);
    expect(counts.get(ids.manual ?? 0)).toBe(1);
    expect(counts.get(ids.pod ?? 0)).toBe(3);
    const later = await countRestarts(postgres.db, Object.values(ids), new Date(at("10:20:00")));
    expect([...later.entries()]).toEqual([[ids.pod, 2]]);
  });

  it("answers an empty map for no containers", async () => {
    expect((await countRestarts(postgres.db, [], new Date())).size).toBe(0);
  });
});
