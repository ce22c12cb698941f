// The five-minute tier against real Postgres: rows made from minute rows once all five minutes
// are computed, equal to values computed by hand and to the raw samples; recomputed with a late
// minute; each written once with two instances catching up after an outage; and the minutes
// stored before migration 0012 rolled up by it. Times are on yesterday (test-clock.ts), the
// job's clock injected.
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_DAY, TEST_DAY_MS, testTime } from "../../../../test/support/test-clock.ts";
import { createTestDatabase } from "../../../../test/support/test-env.ts";
import { migrateTo, migrateToLatest } from "../db/migrations.ts";
import { type MigratedDatabase, openMigratedDatabase, openStorePool } from "../fixtures/migrated-database.ts";
import { A, bucketRows, handComputedSamples, minuteJob, minuteSample } from "../fixtures/minute-fixtures.ts";
import { ContainerDirectory } from "../ingest/container-directory.ts";
import { StatsWriter } from "../ingest/stats-writer.ts";

const HOUR_MS = 3_600_000;

/** The columns every rollup tier has, in one order, as text (bigint sums and counts alike). */
const TIER_COLUMNS = [
  "samples",
  "cpu_percent_samples",
  "cpu_percent_sum",
  "cpu_percent_max",
  "mem_used_samples",
  "mem_used_sum",
  "mem_used_max",
  "mem_limit_samples",
  "mem_limit_sum",
  "pids_samples",
  "pids_sum",
  "pids_max",
  "net_rx_bytes",
];

describe("five-minute rollups", () => {
  let pg: MigratedDatabase;
  let writer: StatsWriter;
  let a: number;
  const fiveMinuteRows = (containerId: number) => bucketRows(pg, "container_stats_five_minute", containerId);

  beforeAll(async () => {
    pg = await openMigratedDatabase("five-minute-rollup-test");
    writer = new StatsWriter({ pool: pg.pool, directory: new ContainerDirectory(pg.db) });
    const written = await writer.write([
      // The five minutes from 10:00: a counter reset, a value missing, a gap (10:02).
      ...handComputedSamples(),
      // 1 ms before the five minutes end, and the first sample of the next five.
      minuteSample(A, testTime("10:04:59.999"), { cpu: 15, mem: 150, rx: 1100, pids: 2 }),
      minuteSample(A, testTime("10:05:00.000"), { cpu: 90, mem: 900, rx: 1200 }),
    ]);
    a = written[0] ?? 0;
  });

  afterAll(async () => {
    await pg?.close();
  });

  it("writes five minutes once all five are computed, with the values of their samples", async () => {
    // 10:04:30: minutes up to 10:03 are computed; the five minutes from 10:00 are not complete.
    await minuteJob(pg, testTime("10:04:30.000")).run();
    expect((await fiveMinuteRows(a)).map((row) => row.bucket)).toEqual(["09:55"]);
    // 10:05:20: 10:04 has settled, so the five minutes from 10:00 are written; 10:05 is open.
    await minuteJob(pg, testTime("10:05:20.000")).run();
    const rows = await fiveMinuteRows(a);
    expect(rows.map((row) => row.bucket)).toEqual(["09:55", "10:00"]);
    expect(rows[0]).toMatchObject({
      samples: 1,
      cpu_percent_sum: 10,
      cpu_percent_max: 10,
      net_rx_bytes: null,
    });
    expect(rows[1]).toMatchObject({
      samples: 6,
      cpu_percent_samples: 5,
      cpu_percent_sum: 20 + 40 + 60 + 5 + 15,
      cpu_percent_max: 60,
      mem_used_samples: 6,
      mem_used_sum: 200 + 400 + 300 + 600 + 50 + 150,
      mem_used_max: 600,
      mem_limit_samples: 6,
      mem_limit_sum: 6000,
      // 3, 7, none, 1, 1, 2.
      pids_samples: 5,
      pids_sum: 14,
      pids_max: 7,
      // 1000 → 1500 (+500), reset to 300 (+300), → 800 (+500), → 900, → 1000, → 1100 (+100 each).
      net_rx_bytes: 1600,
      net_tx_bytes: null,
    });
  });

  it("is written again when a late sample has one of its minutes recomputed", async () => {
    const late = [minuteSample(A, testTime("10:00:45.000"), { cpu: 100, mem: 1000, rx: 700 })];
    await writer.markLateBuckets(late, await writer.write(late));
    expect(await minuteJob(pg, testTime("10:05:20.000")).run()).toEqual({ computed: 1, busy: 0 });
    // 300 → 700 → 800: the same bytes, in one more pair.
    expect((await fiveMinuteRows(a))[1]).toMatchObject({
      samples: 7,
      cpu_percent_sum: 240,
      cpu_percent_max: 100,
      mem_used_sum: 2700,
      mem_used_max: 1000,
      net_rx_bytes: 1600,
    });
  });

  it("recomputes the bucket of a sample stored before it arrived: bytes moved add up", async () => {
    // 10:02:30 arrives after 10:03:10 was stored: the pair 10:01:00 → 10:03:10 moved 100 bytes in
    // 10:03; now 10:01:00 → 10:02:30 moves 50 in 10:02 and 10:02:30 → 10:03:10 50 in 10:03.
    const late = [minuteSample(A, testTime("10:02:30.000"), { cpu: 30, mem: 300, rx: 950 })];
    await writer.markLateBuckets(late, await writer.write(late));
    expect(await minuteJob(pg, testTime("10:05:20.000")).run()).toEqual({ computed: 2, busy: 0 });
    const minutes = await sql<{ bucket: Date; net_rx_bytes: string }>`
      SELECT bucket, net_rx_bytes::text FROM container_stats_minute
      WHERE container_id = ${a} AND bucket IN (${testTime("10:02:00.000")}, ${testTime("10:03:00.000")})
      ORDER BY bucket`.execute(pg.db);
    expect(minutes.rows.map((row) => row.net_rx_bytes)).toEqual(["50", "50"]);
    expect((await fiveMinuteRows(a))[1]).toMatchObject({
      samples: 8,
      cpu_percent_sum: 270,
      mem_used_sum: 3000,
      net_rx_bytes: 1600,
    });
  });

  it("catches up after a 2-hour outage with two instances at once, equal to the raw samples", async () => {
    // 20 containers every 10 s from 12:00 to 14:00; the store was down from 12:00:30 to 14:00:30.
    const samples = [];
    for (let ms = TEST_DAY_MS + 12 * HOUR_MS; ms < TEST_DAY_MS + 14 * HOUR_MS; ms += 10_000) {
      for (let c = 0; c < 20; c++) {
        samples.push(
          minuteSample(
            { external_id: c.toString(16).padStart(64, "e"), name: `e${c}` },
            new Date(ms).toISOString(),
            {
              cpu: (c * 7 + ms / 10_000) % 13,
              mem: c + ((ms / 10_000) % 5),
              rx: ms / 1000,
            },
          ),
        );
      }
    }
    await writer.write(samples);
    await minuteJob(pg, TEST_DAY_MS + 12 * HOUR_MS + 30_000).run();
    const second = openStorePool(pg.url, "five-minute-rollup-test-2");
    try {
      const now = TEST_DAY_MS + 14 * HOUR_MS + 30_000;
      await Promise.all([minuteJob(pg, now).run(), minuteJob(second, now).run()]);
    } finally {
      await second.destroy();
    }
    const from = new Date(TEST_DAY_MS + 12 * HOUR_MS);
    const to = new Date(TEST_DAY_MS + 14 * HOUR_MS);
    const compared = await sql<{ buckets: number; differing: number }>`
      WITH raw AS (
        SELECT container_id, date_bin('5 minutes', ts, 'epoch') AS bucket, count(*)::int AS samples,
          sum(cpu_percent) AS cpu_sum, max(cpu_percent) AS cpu_max, sum(mem_used)::bigint AS mem_sum,
          max(mem_used) AS mem_max
        FROM container_stats WHERE ts >= ${from} AND ts < ${to} AND container_id <> ${a}
        GROUP BY 1, 2
      )
      SELECT count(*)::int AS buckets,
        count(*) FILTER (WHERE f.container_id IS NULL OR (f.samples, f.cpu_percent_max, f.mem_used_sum, f.mem_used_max)
          IS DISTINCT FROM (raw.samples, raw.cpu_max, raw.mem_sum, raw.mem_max)
          OR abs(f.cpu_percent_sum - raw.cpu_sum) > 1e-9 * raw.cpu_sum)::int AS differing
      FROM raw LEFT JOIN container_stats_five_minute f USING (container_id, bucket)`.execute(pg.db);
    expect(compared.rows[0]).toEqual({ buckets: 24 * 20, differing: 0 });
    // Every pair of samples 10 s apart moved 10 bytes; each container's first sample has no pair.
    const moved = await sql<{ five_minutes: number; total: string }>`
      SELECT count(*)::int AS five_minutes, sum(net_rx_bytes)::text AS total FROM container_stats_five_minute
      WHERE bucket >= ${from} AND bucket < ${to} AND container_id <> ${a}`.execute(pg.db);
    expect(moved.rows[0]).toEqual({ five_minutes: 24 * 20, total: String(20 * (720 - 1) * 10) });
  });

  it("adds up to the minute tier in every column", async () => {
    // Every five minutes of every container: A's three, and 24 of each of the 20 others.
    const differing = await sql<{ n: number; rows: number }>`
      WITH m AS (
        SELECT container_id, date_bin('5 minutes', bucket, 'epoch') AS bucket,
          ${sql.raw(
            TIER_COLUMNS.map((column) =>
              column.endsWith("_max")
                ? `max(${column})::text AS ${column}`
                : `sum(${column})::text AS ${column}`,
            ).join(", "),
          )}
        FROM container_stats_minute GROUP BY 1, 2
      )
      SELECT count(*)::int AS rows,
        count(*) FILTER (WHERE (${sql.raw(TIER_COLUMNS.map((c) => `f.${c}::text`).join(", "))})
          IS DISTINCT FROM (${sql.raw(TIER_COLUMNS.map((c) => `m.${c}`).join(", "))}))::int AS n
      FROM container_stats_five_minute f FULL JOIN m USING (container_id, bucket)`.execute(pg.db);
    expect(differing.rows[0]).toEqual({ rows: 3 + 24 * 20, n: 0 });
  });
});

describe("migration 0012", () => {
  it("rolls up the minutes stored before it into five-minute rows", async () => {
    const database = await createTestDatabase();
    const handle = openStorePool(database.url, "five-minute-migration-test");
    try {
      await migrateTo(handle.db, "0011-covering-minute-keys");
      await sql`SELECT crowsnest_ensure_day_partition('container_stats_minute', ${TEST_DAY}::date)`.execute(
        handle.db,
      );
      // Ten minutes of one container, 12:00–12:09: two complete five minutes.
      await sql`
        INSERT INTO container_stats_minute (container_id, bucket, samples, cpu_percent_samples, cpu_percent_sum,
          cpu_percent_max, mem_used_samples, mem_used_sum, mem_used_max, mem_limit_samples, mem_limit_sum,
          net_rx_bytes_per_s_samples, net_tx_bytes_per_s_samples, blk_read_bytes_per_s_samples,
          blk_write_bytes_per_s_samples, pids_samples, net_rx_bytes)
        SELECT 7, ${testTime("12:00:00.000")}::timestamptz + make_interval(mins => n), 6, 6, 6 * n, n, 6, 600, 100 + n,
          6, 6000, 0, 0, 0, 0, 0, 60
        FROM generate_series(0, 9) AS n`.execute(handle.db);
      expect(await migrateToLatest(handle.db)).toContain("0012-five-minute-rollups");
      const rows = await sql<{
        bucket: Date;
        samples: number;
        cpu_percent_sum: number;
        cpu_percent_max: number;
        mem_used_max: string;
        net_rx_bytes: string;
      }>`
        SELECT bucket, samples, cpu_percent_sum, cpu_percent_max, mem_used_max::text, net_rx_bytes::text
        FROM container_stats_five_minute WHERE container_id = 7 ORDER BY bucket`.execute(handle.db);
      expect(rows.rows).toEqual([
        {
          bucket: new Date(testTime("12:00:00.000")),
          samples: 30,
          cpu_percent_sum: 6 * (0 + 1 + 2 + 3 + 4),
          cpu_percent_max: 4,
          mem_used_max: "104",
          net_rx_bytes: "300",
        },
        {
          bucket: new Date(testTime("12:05:00.000")),
          samples: 30,
          cpu_percent_sum: 6 * (5 + 6 + 7 + 8 + 9),
          cpu_percent_max: 9,
          mem_used_max: "109",
          net_rx_bytes: "300",
        },
      ]);
    } finally {
      await handle.destroy();
      await database.drop();
    }
  });
});
