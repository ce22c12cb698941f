// Two store instances on one database and one bus: they share the durable consumers without
// storing anything twice, and every rollup bucket is computed by exactly one of them.
import { createSubjects } from "@crowsnest/shared";
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams, publishStats, statsFixture } from "../../../test/support/bus-fixtures.ts";
import { TEST_DAY_MS } from "../../../test/support/test-clock.ts";
import {
  connectTestNats,
  createTestDatabase,
  eventually,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../test/support/test-env.ts";
import type { StoreDatabase } from "./db/database.ts";
import { migrateToLatest } from "./db/migrations.ts";
import { dayNumber, dayStart, ensureDayPartition, oldestKeptDay } from "./db/partitions.ts";
import { type StoreProcess, spawnStore } from "./fixtures/store-process.ts";

const prefix = testSubjectPrefix();
const subjects = createSubjects(prefix);
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

describe("two store instances", () => {
  let database: TestDatabase;
  let pg: PostgresHandle<StoreDatabase>;
  let nc: NatsConnection;
  let stores: StoreProcess[] = [];
  const hourNow = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;

  beforeAll(async () => {
    database = await createTestDatabase();
    pg = openPostgres<StoreDatabase>({
      url: database.url,
      poolSize: 2,
      applicationName: "instances-test",
      onIdleError: () => {},
    });
    await migrateToLatest(pg.db);
    // Six closed hours of samples (every 10 minutes, 50 container ids no container row uses),
    // written before any store runs,
    // so each bucket is due exactly once.
    const from = new Date(hourNow - 6 * HOUR_MS);
    for (let day = dayNumber(from); day <= dayNumber(new Date(hourNow)); day++) {
      await ensureDayPartition(pg.pool, "container_stats", day);
    }
    await sql`
      INSERT INTO container_stats (container_id, ts, cpu_percent)
      SELECT c, g, c FROM generate_series(1001, 1050) c,
        generate_series(${from}::timestamptz, ${new Date(hourNow - 1)}::timestamptz, interval '10 minutes') g`.execute(
      pg.db,
    );
    nc = await connectTestNats();
    const env = {
      CROWSNEST_DATABASE_URL: database.url,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_INGEST_BATCH_WAIT_MS: "50",
    };
    stores = [
      spawnStore({ ...env, CROWSNEST_HOST_NAME: "one" }),
      spawnStore({ ...env, CROWSNEST_HOST_NAME: "two" }),
    ];
    await Promise.all(stores.map((store) => store.waitForLog((record) => record.msg === "store started")));
  });

  afterAll(async () => {
    const codes = await Promise.all(stores.map((store) => store.stop()));
    await pg?.destroy();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    await database?.drop();
    expect(codes).toEqual([0, 0]);
  });

  it("computes each rollup bucket once", async () => {
    // Every closed hour (and settled minute) from 00:00 of the oldest day the 7-day raw
    // retention keeps, and the 7 closed days since, per series, all due at start. Minutes keep
    // closing while the test runs: at least those closed before it are expected.
    const firstMs = dayStart(oldestKeptDay(hourNow, 7)).getTime();
    const hours = (hourNow - firstMs) / HOUR_MS;
    const minutes = (Math.floor((Date.now() - 20_000) / MINUTE_MS) * MINUTE_MS - firstMs) / MINUTE_MS;
    const expected = { container_hourly: hours, host_hourly: hours, container_daily: 7, host_daily: 7 };
    const buckets = await eventually(
      async () => {
        const result = await sql<{ series: string; n: number; most: number; total: number }>`
          SELECT series, count(*)::int AS n, max(computations)::int AS most, sum(computations)::int AS total
          FROM rollup_buckets WHERE computed_generation IS NOT NULL GROUP BY series ORDER BY series`.execute(
          pg.db,
        );
        const counts = Object.fromEntries(result.rows.map((row) => [row.series, row.n]));
        const { container_minute: containerMinutes = 0, host_minute: hostMinutes = 0, ...coarse } = counts;
        return JSON.stringify(coarse) ===
          JSON.stringify(Object.fromEntries(Object.entries(expected).sort())) &&
          containerMinutes >= minutes &&
          hostMinutes >= minutes
          ? result.rows
          : undefined;
      },
      { timeoutMs: 60_000, what: "every bucket computed" },
    );
    expect(buckets.map((row) => [row.series, row.most, row.total])).toEqual([
      ["container_daily", 1, 7],
      ["container_hourly", 1, hours],
      ["container_minute", 1, buckets.find((row) => row.series === "container_minute")?.n],
      ["host_daily", 1, 7],
      ["host_hourly", 1, hours],
      ["host_minute", 1, buckets.find((row) => row.series === "host_minute")?.n],
    ]);
    const hourly = await sql<{ buckets: number; samples: number }>`
      SELECT count(DISTINCT bucket)::int AS buckets, sum(samples)::int AS samples FROM container_stats_hourly`.execute(
      pg.db,
    );
    expect(hourly.rows[0]).toEqual({ buckets: 6, samples: 6 * 6 * 50 });
    const perMinute = await sql<{ buckets: number; samples: number }>`
      SELECT count(DISTINCT bucket)::int AS buckets, sum(samples)::int AS samples FROM container_stats_minute`.execute(
      pg.db,
    );
    expect(perMinute.rows[0]).toEqual({ buckets: 6 * 6, samples: 6 * 6 * 50 });
    // Both instances took part in the work (each logs the series it computed buckets of).
    const working = stores.filter((store) => store.logs.some((record) => record.msg === "computed rollups"));
    expect(working.length).toBeGreaterThanOrEqual(1);
  });

  it("shares the consumers without storing a sample twice", async () => {
    const js = jetstream(nc);
    const published: Promise<void>[] = [];
    for (let n = 0; n < 3000; n++) {
      const message = statsFixture({
        container: { external_id: (n % 30).toString(16).padStart(64, "f"), name: `s${n % 30}` },
        ts: new Date(TEST_DAY_MS + 6 * 3_600_000 + Math.floor(n / 30) * 10_000).toISOString(),
      });
      published.push(publishStats(js, subjects, message));
      if (n % 5 === 0) published.push(publishStats(js, subjects, message, `dup-${n}`));
      if (published.length >= 500) await Promise.all(published.splice(0));
    }
    await Promise.all(published);
    const count = async () =>
      (
        await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM container_stats s JOIN containers c ON c.id = s.container_id
          WHERE c.name LIKE 's%'`.execute(pg.db)
      ).rows[0]?.n;
    await eventually(async () => ((await count()) === 3000 ? true : undefined), {
      timeoutMs: 20_000,
      what: "3000 samples",
    }).catch((error) => {
      for (const store of stores)
        console.log(JSON.stringify(store.logs.filter((r) => Number(r.level) >= 40).slice(0, 5)));
      throw error;
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await count()).toBe(3000);
    const containers = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM containers WHERE name LIKE 's%'`.execute(pg.db);
    expect(containers.rows[0]?.n).toBe(30);
  });
});
