// The indexes are chosen for the queries the api makes: each query below is EXPLAINed on a
// realistic amount of data and must use its index, not scan a whole table.
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../test/support/test-env.ts";
import type { StoreDatabase } from "./database.ts";
import { migrateToLatest } from "./migrations.ts";
import { dayNumber, ensureDayPartition } from "./partitions.ts";

const DAY = "2026-11-20T00:00:00.000Z";

describe("query plans of the api's queries", () => {
  let database: TestDatabase;
  let pg: PostgresHandle<StoreDatabase>;
  const plan = async (query: string): Promise<string> => {
    const result = await pg.pool.query<{ "QUERY PLAN": string }>(`EXPLAIN ${query}`);
    return result.rows.map((row) => row["QUERY PLAN"]).join("\n");
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    pg = openPostgres<StoreDatabase>({
      url: database.url,
      poolSize: 2,
      applicationName: "plans-test",
      onIdleError: () => {},
    });
    await migrateToLatest(pg.db);
    for (const offset of [-1, 0, 1])
      await ensureDayPartition(pg.pool, "container_stats", dayNumber(DAY) + offset);
    // 300 containers sampled every 2 minutes for three days, in time order as ingest writes them.
    await sql`
      INSERT INTO container_stats (container_id, ts, cpu_percent, mem_used, mem_limit)
      SELECT c, ${DAY}::timestamptz - interval '1 day' + m * interval '2 minutes', c % 100, c * 1000, 1000000
      FROM generate_series(0, 3 * 720 - 1) m, generate_series(1, 300) c ORDER BY m, c`.execute(pg.db);
    await sql`
      INSERT INTO container_stats_hourly (container_id, bucket, samples, cpu_percent_samples, cpu_percent_sum,
        mem_used_samples, mem_used_sum, mem_limit_samples, net_rx_bytes_per_s_samples, net_tx_bytes_per_s_samples,
        blk_read_bytes_per_s_samples, blk_write_bytes_per_s_samples)
      SELECT c, ${DAY}::timestamptz - h * interval '1 hour', 60, 60, 60 * (c % 100), 60, 60 * c, 0, 0, 0, 0, 0
      FROM generate_series(0, 30 * 24) h, generate_series(1, 300) c`.execute(pg.db);
    // One day of minute rollups of the same containers.
    for (const offset of [-1, 0])
      await ensureDayPartition(pg.pool, "container_stats_minute", dayNumber(DAY) + offset);
    await sql`
      INSERT INTO container_stats_minute (container_id, bucket, samples, cpu_percent_samples, cpu_percent_sum,
        cpu_percent_max, mem_used_samples, mem_used_sum, mem_limit_samples, net_rx_bytes_per_s_samples,
        net_tx_bytes_per_s_samples, blk_read_bytes_per_s_samples, blk_write_bytes_per_s_samples)
      SELECT c, ${DAY}::timestamptz - interval '1 day' + m * interval '1 minute', 6, 6, 6 * (c % 100), c % 100, 6,
        6 * c, 0, 0, 0, 0, 0
      FROM generate_series(0, 1439) m, generate_series(1, 300) c ORDER BY m, c`.execute(pg.db);
    // All-visible, as the minute job's VACUUM after each run leaves them (rollup-job.ts).
    await sql`VACUUM container_stats_minute`.execute(pg.db);
    await sql`
      INSERT INTO containers (host, runtime, external_id, name, last_seen)
      SELECT 'h1', 'docker', 'ext-' || c, 'c' || c, now() FROM generate_series(1, 300) c`.execute(pg.db);
    await sql`
      INSERT INTO container_events (event_id, container_id, ts, kind, action, synthesized)
      SELECT 'e' || n, n % 300, ${DAY}::timestamptz - n * interval '1 minute', 'container', 'start', false
      FROM generate_series(1, 100000) n`.execute(pg.db);
    await sql`
      INSERT INTO alert_history (container_id, ts, metric, change, previous_state, new_state)
      SELECT n % 300, ${DAY}::timestamptz - n * interval '1 minute', 'cpu', 'fired', 'normal', 'cpu_alert'
      FROM generate_series(1, 50000) n`.execute(pg.db);
    await sql`ANALYZE`.execute(pg.db);
  });

  afterAll(async () => {
    await pg?.destroy();
    await database?.drop();
  });

  it("history of one container over a time range reads its primary key, in the right partitions only", async () => {
    const text = await plan(`SELECT ts, cpu_percent FROM container_stats
      WHERE container_id = 42 AND ts >= '${DAY}' AND ts < '${DAY}'::timestamptz + interval '6 hours' ORDER BY ts`);
    expect(text).toMatch(/Index Scan (using|on) container_stats_p20261120_pkey/);
    expect(text).not.toMatch(/p20261119|p20261121/);
  });

  it("the newest sample of one container reads each partition's primary key backwards", async () => {
    const text = await plan("SELECT * FROM container_stats WHERE container_id = 42 ORDER BY ts DESC LIMIT 1");
    expect(text).toMatch(/Index Scan Backward using container_stats_p\d+_pkey/);
    expect(text).not.toMatch(/Seq Scan/);
  });

  it("the latest samples of all containers (top consumers, now) read the BRIN index on ts", async () => {
    const text = await plan(`SELECT DISTINCT ON (container_id) container_id, cpu_percent FROM container_stats
      WHERE ts >= '${DAY}'::timestamptz + interval '23 hours 59 minutes' ORDER BY container_id, ts DESC`);
    expect(text).toMatch(/Bitmap Index Scan on container_stats_p20261120_ts_idx/);
  });

  it("top consumers over a period read the rollup's bucket index", async () => {
    const text =
      await plan(`SELECT container_id, sum(cpu_percent_sum) / nullif(sum(cpu_percent_samples), 0) AS cpu
      FROM container_stats_hourly WHERE bucket >= '${DAY}'::timestamptz - interval '24 hours'
      GROUP BY container_id ORDER BY cpu DESC NULLS LAST LIMIT 10`);
    expect(text).toMatch(/container_stats_hourly_bucket/);
    expect(text).not.toMatch(/Seq Scan/);
  });

  it("hourly history of one container reads the rollup's primary key", async () => {
    const text = await plan(`SELECT bucket, cpu_percent_avg, cpu_percent_max FROM container_stats_hourly
      WHERE container_id = 42 AND bucket >= '${DAY}'::timestamptz - interval '7 days' ORDER BY bucket`);
    expect(text).toMatch(/Index Scan using container_stats_hourly_pkey/);
  });

  it("minute history of one container (6h, 24h charts) reads the minute table's covering key alone, in its days only", async () => {
    const text = await plan(`SELECT date_bin('5 minutes', bucket, '2000-01-01') AS t, sum(samples),
        sum(cpu_percent_samples), sum(cpu_percent_sum), max(cpu_percent_max), sum(mem_used_sum), max(mem_used_max),
        sum(mem_limit_samples), sum(mem_limit_sum), max(blk_write_bytes_per_s_max)
      FROM container_stats_minute
      WHERE container_id = 42 AND bucket >= '${DAY}'::timestamptz - interval '6 hours' AND bucket < '${DAY}'
      GROUP BY 1`);
    expect(text).toMatch(/Index Only Scan using container_stats_minute_p20261119_pkey/);
    expect(text).not.toMatch(/p20261120|Seq Scan/);
  });

  it("series of many containers (sparklines) read the minute table's covering key alone for every id", async () => {
    const ids = Array.from({ length: 200 }, (_, n) => n + 1).join(",");
    const text =
      await plan(`SELECT container_id, date_bin('1 minute', bucket, '2000-01-01') AS t, sum(samples)
      FROM container_stats_minute
      WHERE container_id = ANY('{${ids}}'::bigint[]) AND bucket >= '${DAY}'::timestamptz - interval '1 hour'
        AND bucket < '${DAY}'
      GROUP BY 1, 2`);
    expect(text).toMatch(/Index Only Scan using container_stats_minute_p20261119_pkey/);
    expect(text).not.toMatch(/Seq Scan/);
  });

  it("events and alert history of one container, newest first, read their per-container indexes", async () => {
    const events = await plan(`SELECT * FROM container_events WHERE container_id = 42
      AND ts < '${DAY}' ORDER BY ts DESC, id DESC LIMIT 50`);
    expect(events).toMatch(/Index Scan using container_events_by_container/);
    const alerts = await plan(
      `SELECT * FROM alert_history WHERE container_id = 42 ORDER BY ts DESC, id DESC LIMIT 50`,
    );
    expect(alerts).toMatch(/Index Scan using alert_history_by_container/);
  });

  it("restart counts of a page of containers (the overview) read the events' per-container index", async () => {
    const ids = Array.from({ length: 500 }, (_, n) => n + 1).join(",");
    const text = await plan(`SELECT container_id, count(*) FROM container_restarts
      WHERE container_id = ANY('{${ids}}'::bigint[]) AND ts >= '${DAY}'::timestamptz - interval '24 hours'
      GROUP BY container_id`);
    expect(text).toMatch(/container_events_by_container/);
    expect(text).not.toMatch(/Seq Scan on container_events/);
  });
});
