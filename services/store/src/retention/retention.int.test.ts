// Retention against real Postgres: which day partitions go, which rows go, and that nothing
// younger than its retention does.
import { createLogger } from "@crowsnest/shared";
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../test/support/test-env.ts";
import type { StoreDatabase } from "../db/database.ts";
import { migrateToLatest } from "../db/migrations.ts";
import { dayNumber, ensureDayPartition, listDayPartitions } from "../db/partitions.ts";
import { RetentionJob } from "./retention-job.ts";

const logger = createLogger({ service: "store", level: "silent" });
const NOW = "2026-11-30T12:00:00.000Z";

describe("retention", () => {
  let database: TestDatabase;
  let pg: PostgresHandle<StoreDatabase>;

  beforeAll(async () => {
    database = await createTestDatabase();
    pg = openPostgres<StoreDatabase>({
      url: database.url,
      poolSize: 4,
      applicationName: "retention-test",
      onIdleError: () => {},
    });
    await migrateToLatest(pg.db);
    for (
      let day = dayNumber("2026-11-20T00:00:00.000Z");
      day <= dayNumber("2026-11-24T00:00:00.000Z");
      day++
    ) {
      await ensureDayPartition(pg.pool, "container_stats", day);
      await ensureDayPartition(pg.pool, "host_stats", day);
    }
    // One sample every hour from 11-20 00:00 to 11-24 23:00 for one container and one host.
    await sql`
      INSERT INTO container_stats (container_id, ts)
      SELECT 1, g FROM generate_series('2026-11-20T00:00:00Z'::timestamptz, '2026-11-24T23:00:00Z', interval '1 hour') g`.execute(
      pg.db,
    );
    await sql`
      INSERT INTO host_stats (host_id, ts, online_cpus, mem_total, mem_used, mem_available, load_1, load_5, load_15, uptime_s)
      SELECT 1, g, 1, 1, 1, 1, 0, 0, 0, 0
      FROM generate_series('2026-11-20T00:00:00Z'::timestamptz, '2026-11-24T23:00:00Z', interval '1 hour') g`.execute(
      pg.db,
    );
    // Minute and five-minute rollups of 11-14 … 11-17: kept 14 days, so 11-14 and 11-15 (ended
    // by 11-16 12:00) go.
    for (
      let day = dayNumber("2026-11-14T00:00:00.000Z");
      day <= dayNumber("2026-11-17T00:00:00.000Z");
      day++
    ) {
      await ensureDayPartition(pg.pool, "container_stats_minute", day);
      await ensureDayPartition(pg.pool, "container_stats_five_minute", day);
    }
    await sql`
      INSERT INTO container_stats_minute (container_id, bucket, samples, cpu_percent_samples, mem_used_samples,
        mem_limit_samples, net_rx_bytes_per_s_samples, net_tx_bytes_per_s_samples, blk_read_bytes_per_s_samples,
        blk_write_bytes_per_s_samples)
      SELECT 1, g, 6, 0, 0, 0, 0, 0, 0, 0
      FROM generate_series('2026-11-14T00:00:00Z'::timestamptz, '2026-11-17T23:59:00Z', interval '1 minute') g`.execute(
      pg.db,
    );
    await sql`
      INSERT INTO container_stats_five_minute (container_id, bucket, samples, cpu_percent_samples, mem_used_samples,
        mem_limit_samples, net_rx_bytes_per_s_samples, net_tx_bytes_per_s_samples, blk_read_bytes_per_s_samples,
        blk_write_bytes_per_s_samples, pids_samples)
      SELECT 1, g, 30, 0, 0, 0, 0, 0, 0, 0, 0
      FROM generate_series('2026-11-14T00:00:00Z'::timestamptz, '2026-11-17T23:55:00Z', interval '5 minutes') g`.execute(
      pg.db,
    );
    // A day table a crash left detached but not dropped.
    await ensureDayPartition(pg.pool, "container_stats", dayNumber("2026-11-19T00:00:00.000Z"));
    await sql`ALTER TABLE container_stats DETACH PARTITION container_stats_p20261119`.execute(pg.db);
    // 12 000 hourly rows older than 90 days (more than two delete batches) and 100 younger ones.
    await sql`
      INSERT INTO container_stats_hourly (container_id, bucket, samples, cpu_percent_samples, mem_used_samples,
        mem_limit_samples, net_rx_bytes_per_s_samples, net_tx_bytes_per_s_samples, blk_read_bytes_per_s_samples,
        blk_write_bytes_per_s_samples)
      SELECT c, '2026-09-01T00:00:00Z'::timestamptz - h * interval '1 hour', 1, 0, 0, 0, 0, 0, 0, 0
      FROM generate_series(1, 100) c, generate_series(1, 120) h
      UNION ALL
      SELECT c, '2026-09-01T12:00:00Z'::timestamptz, 1, 0, 0, 0, 0, 0, 0, 0 FROM generate_series(1, 100) c`.execute(
      pg.db,
    );
    await sql`
      INSERT INTO container_events (event_id, container_id, ts, kind, action, synthesized)
      VALUES ('old', 1, '2026-10-31T11:59:59Z', 'container', 'start', false),
             ('young', 1, '2026-10-31T12:00:01Z', 'container', 'start', false)`.execute(pg.db);
    await sql`
      INSERT INTO alert_history (container_id, ts, metric, change, previous_state, new_state)
      VALUES (1, '2026-09-01T11:00:00Z', 'cpu', 'fired', 'normal', 'cpu_alert'),
             (1, '2026-09-01T13:00:00Z', 'cpu', 'resolved', 'cpu_alert', 'normal')`.execute(pg.db);
  });

  afterAll(async () => {
    await pg?.destroy();
    await database?.drop();
  });

  it("drops exactly the expired day partitions and rows, and creates days ahead", async () => {
    const job = new RetentionJob({
      db: pg.db,
      pool: pg.pool,
      logger,
      days: { raw: 7, minute: 14, hourly: 90, daily: 400, events: 30, alertHistory: 90 },
      now: () => new Date(NOW),
    });
    const summary = await job.run();
    // Raw cutoff 11-23 12:00: days ending by then go (11-19 … 11-22); 11-23 still has young samples.
    expect(summary.droppedPartitions.sort()).toEqual([
      "container_stats_five_minute_p20261114",
      "container_stats_five_minute_p20261115",
      "container_stats_minute_p20261114",
      "container_stats_minute_p20261115",
      "container_stats_p20261119",
      "container_stats_p20261120",
      "container_stats_p20261121",
      "container_stats_p20261122",
      "host_stats_p20261120",
      "host_stats_p20261121",
      "host_stats_p20261122",
    ]);
    expect(summary.deletedRows).toEqual({
      container_stats_hourly: 12_000,
      container_events: 1,
      alert_history: 1,
    });
    const days = (await listDayPartitions(pg.pool, "container_stats")).map((p) => p.name).sort();
    expect(days).toEqual([
      "container_stats_p20261123",
      "container_stats_p20261124",
      "container_stats_p20261130",
      "container_stats_p20261201",
      "container_stats_p20261202",
      "container_stats_p20261203",
    ]);
    const minuteDays = (await listDayPartitions(pg.pool, "container_stats_minute")).map((p) => p.name).sort();
    expect(minuteDays).toEqual([
      "container_stats_minute_p20261116",
      "container_stats_minute_p20261117",
      "container_stats_minute_p20261130",
      "container_stats_minute_p20261201",
      "container_stats_minute_p20261202",
      "container_stats_minute_p20261203",
    ]);
    const fiveMinuteDays = (await listDayPartitions(pg.pool, "container_stats_five_minute"))
      .map((p) => p.name)
      .sort();
    expect(fiveMinuteDays).toEqual(minuteDays.map((name) => name.replace("_minute_", "_five_minute_")));
    const counts = await sql<{
      raw: number;
      oldest: Date;
      minutes: number;
      five_minutes: number;
      hourly: number;
      events: string[];
      alerts: number;
    }>`
      SELECT (SELECT count(*)::int FROM container_stats) AS raw,
             (SELECT min(ts) FROM container_stats) AS oldest,
             (SELECT count(*)::int FROM container_stats_minute) AS minutes,
             (SELECT count(*)::int FROM container_stats_five_minute) AS five_minutes,
             (SELECT count(*)::int FROM container_stats_hourly) AS hourly,
             (SELECT array_agg(event_id) FROM container_events) AS events,
             (SELECT count(*)::int FROM alert_history) AS alerts`.execute(pg.db);
    expect(counts.rows[0]).toEqual({
      raw: 48,
      oldest: new Date("2026-11-23T00:00:00.000Z"),
      minutes: 2 * 1440,
      five_minutes: 2 * 288,
      hourly: 100,
      events: ["young"],
      alerts: 1,
    });
    // A second run finds nothing left to do.
    expect(await job.run()).toEqual({ droppedPartitions: [], deletedRows: {} });
  });
});
