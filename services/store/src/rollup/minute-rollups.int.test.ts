// The minute tier against real Postgres, on data whose every value is computed by hand below:
// minute edges, a counter reset, a gap, agreement with the hourly tier, a late sample, two
// instances computing each minute once, and the catch-up after a store outage. Times are on
// yesterday (test-clock.ts), the job's clock injected.
import { createLogger } from "@crowsnest/shared";
import { openPostgres } from "@crowsnest/shared/postgres";
import { contiguousRuns } from "@crowsnest/shared/util/contiguous-runs";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_DAY_MS, testTime } from "../../../../test/support/test-clock.ts";
import type { StoreDatabase } from "../db/database.ts";
import { type MigratedDatabase, openMigratedDatabase } from "../fixtures/migrated-database.ts";
import {
  A,
  bucketRows,
  handComputedSamples,
  minuteJob as jobAt,
  minuteSample,
} from "../fixtures/minute-fixtures.ts";
import { ContainerDirectory } from "../ingest/container-directory.ts";
import { HostStatsWriter } from "../ingest/host-stats-writer.ts";
import { StatsWriter } from "../ingest/stats-writer.ts";
import { RollupJob } from "./rollup-job.ts";

const logger = createLogger({ service: "store", level: "silent" });
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

describe("minute rollups", () => {
  let pg: MigratedDatabase;
  let writer: StatsWriter;
  let a: number;
  const minuteJob = (now: string | number, db: { db: MigratedDatabase["db"] } = pg) => jobAt(db, now);
  const minuteRows = (containerId: number) => bucketRows(pg, "container_stats_minute", containerId);

  beforeAll(async () => {
    pg = await openMigratedDatabase("minute-rollup-test");
    writer = new StatsWriter({ pool: pg.pool, directory: new ContainerDirectory(pg.db) });
    // Minute edges, a counter reset (a restart) and a gap (minute-fixtures.ts).
    const written = await writer.write(handComputedSamples());
    a = written[0] ?? 0;
    const hosts = new HostStatsWriter({ pool: pg.pool });
    await hosts.write(
      [testTime("10:00:05.000"), testTime("10:00:15.000"), testTime("10:01:05.000")].map((ts, n) => ({
        v: 1,
        host: "node-1",
        ts,
        cpu_percent: 10 * (n + 1),
        online_cpus: 2,
        mem_total: 1000,
        mem_used: 100 * (n + 1),
        mem_available: 900,
        load_1: n,
        load_5: 0,
        load_15: 0,
        uptime_s: 1,
      })),
    );
  });

  afterAll(async () => {
    await pg?.close();
  });

  it("computes every closed minute exactly: edges, a counter reset and a gap", async () => {
    // 10:04:30 on the job's clock: 10:03 closed 30 s ago (settled), 10:04 is open.
    const summary = await minuteJob(testTime("10:04:30.000")).run();
    expect(summary.busy).toBe(0);
    const rows = await minuteRows(a);
    expect(rows.map((row) => row.bucket)).toEqual(["09:59", "10:00", "10:01", "10:03"]);
    expect(rows[0]).toMatchObject({ samples: 1, cpu_percent_sum: 10, net_rx_bytes: null, pids_max: 1 });
    expect(rows[1]).toMatchObject({
      samples: 3,
      // A sample without pids counts in no pids average.
      pids_samples: 2,
      pids_sum: 10,
      pids_max: 7,
      cpu_percent_samples: 2,
      cpu_percent_sum: 60,
      cpu_percent_max: 40,
      mem_used_samples: 3,
      mem_used_sum: 900,
      mem_used_max: 400,
      mem_limit_sum: 3000,
      // 1000 → 1500 across the edge (+500), reset to 300 (+300), 300 → 800 (+500).
      net_rx_bytes: 1300,
      net_tx_bytes: null,
    });
    expect(rows[2]).toMatchObject({ samples: 1, cpu_percent_max: 60, net_rx_bytes: 100 });
    expect(rows[3]).toMatchObject({ samples: 1, cpu_percent_sum: 5, net_rx_bytes: 100 });
    const host = await sql<{ bucket: Date; samples: number; cpu_percent_sum: number; load_1_max: number }>`
      SELECT bucket, samples, cpu_percent_sum, load_1_max FROM host_stats_minute ORDER BY bucket`.execute(
      pg.db,
    );
    expect(host.rows).toEqual([
      { bucket: new Date(testTime("10:00:00.000")), samples: 2, cpu_percent_sum: 30, load_1_max: 1 },
      { bucket: new Date(testTime("10:01:00.000")), samples: 1, cpu_percent_sum: 30, load_1_max: 2 },
    ]);
    // Nothing is computed twice; the open minute is not computed until it settled.
    expect(await minuteJob(testTime("10:04:30.000")).run()).toEqual({ computed: 0, busy: 0 });
    expect(await minuteJob(testTime("10:05:19.000")).dueBuckets("container_minute")).toEqual([]);
    expect(await minuteJob(testTime("10:05:20.000")).dueBuckets("container_minute")).toEqual([
      new Date(testTime("10:04:00.000")),
    ]);
  });

  it("adds up to the hourly tier: samples, sums, maxima and bytes moved", async () => {
    await new RollupJob({
      db: pg.db,
      logger,
      rawRetentionDays: 7,
      now: () => new Date(testTime("11:00:00.000")),
    }).run();
    const totals = await sql<Record<string, string | number | null>>`
      SELECT h.samples, h.cpu_percent_sum, h.cpu_percent_max, h.mem_used_sum, h.net_rx_bytes,
        h.pids_samples, h.pids_sum, h.pids_max,
        m.samples AS m_samples, m.cpu_percent_sum AS m_cpu_percent_sum, m.cpu_percent_max AS m_cpu_percent_max,
        m.mem_used_sum AS m_mem_used_sum, m.net_rx_bytes AS m_net_rx_bytes,
        m.pids_samples AS m_pids_samples, m.pids_sum AS m_pids_sum, m.pids_max AS m_pids_max
      FROM container_stats_hourly h,
        (SELECT sum(samples)::int AS samples, sum(cpu_percent_sum) AS cpu_percent_sum,
           max(cpu_percent_max) AS cpu_percent_max, sum(mem_used_sum)::bigint AS mem_used_sum,
           sum(net_rx_bytes)::bigint AS net_rx_bytes, sum(pids_samples)::int AS pids_samples,
           sum(pids_sum)::bigint AS pids_sum, max(pids_max) AS pids_max
         FROM container_stats_minute WHERE container_id = ${a} AND bucket >= ${testTime("10:00:00.000")}::timestamptz
           AND bucket < ${testTime("11:00:00.000")}::timestamptz) m
      WHERE h.container_id = ${a} AND h.bucket = ${testTime("10:00:00.000")}::timestamptz`.execute(pg.db);
    const row = totals.rows[0] ?? {};
    // Pids: 3, 7 and null in 10:00, 1 in 10:01 and 1 in 10:03.
    expect(row).toMatchObject({ samples: 5, net_rx_bytes: 1500, pids_samples: 4, pids_sum: 12, pids_max: 7 });
    for (const column of [
      "samples",
      "cpu_percent_sum",
      "cpu_percent_max",
      "mem_used_sum",
      "net_rx_bytes",
      "pids_samples",
      "pids_sum",
      "pids_max",
    ]) {
      expect(row[`m_${column}`], column).toEqual(row[column]);
    }
  });

  it("recomputes a minute that received a late sample, once", async () => {
    const late = [minuteSample(A, testTime("10:00:45.000"), { cpu: 100, mem: 1000, rx: 700 })];
    await writer.markLateBuckets(late, await writer.write(late));
    expect(await minuteJob(testTime("10:04:30.000")).run()).toEqual({ computed: 1, busy: 0 });
    // 1000 → 1500 (+500), reset to 300 (+300), 300 → 700 (+400), 700 → 800 (+100).
    expect((await minuteRows(a))[1]).toMatchObject({ samples: 4, cpu_percent_max: 100, net_rx_bytes: 1300 });
    const bookkeeping = await sql<{ computations: number }>`
      SELECT computations FROM rollup_buckets
      WHERE series = 'container_minute' AND bucket = ${testTime("10:00:00.000")}::timestamptz`.execute(pg.db);
    expect(bookkeeping.rows[0]?.computations).toBe(2);
  });

  it("computes each minute once with two instances running at the same time", async () => {
    // 20 containers every 10 s from 12:00 to 15:00: three hours of minutes due at once.
    const samples = [];
    for (let ms = TEST_DAY_MS + 12 * HOUR_MS; ms < TEST_DAY_MS + 15 * HOUR_MS; ms += 10_000) {
      for (let c = 0; c < 20; c++) {
        samples.push(
          minuteSample(
            { external_id: c.toString(16).padStart(64, "e"), name: `e${c}` },
            new Date(ms).toISOString(),
            {
              cpu: c,
              mem: 1,
              rx: ms / 1000,
            },
          ),
        );
      }
    }
    await writer.write(samples);
    // The second instance: the same database through a pool of its own.
    const second = openPostgres<StoreDatabase>({
      url: pg.url,
      poolSize: 2,
      applicationName: "minute-rollup-test-2",
      onIdleError: () => {},
    });
    try {
      const now = TEST_DAY_MS + 15 * HOUR_MS + 30_000;
      const due =
        (await minuteJob(now).dueBuckets("container_minute")).length +
        (await minuteJob(now).dueBuckets("host_minute")).length;
      const runs = await Promise.all([minuteJob(now).run(), minuteJob(now, second).run()]);
      // An hour one instance held was skipped by the other, never computed by both.
      expect(runs[0].computed + runs[1].computed).toBe(due);
    } finally {
      await second.destroy();
    }
    const minutes = await sql<{ n: number; most: number; samples: number }>`
      SELECT count(*)::int AS n, max(r.computations)::int AS most,
        (SELECT sum(samples)::int FROM container_stats_minute
         WHERE bucket >= ${testTime("12:00:00.000")}::timestamptz) AS samples
      FROM rollup_buckets r
      WHERE r.series = 'container_minute' AND r.bucket >= ${testTime("12:00:00.000")}::timestamptz`.execute(
      pg.db,
    );
    expect(minutes.rows[0]).toEqual({ n: 3 * 60, most: 1, samples: 3 * 360 * 20 });
  });

  it("catches up on every minute missed during a 2-hour outage", async () => {
    // The store ran until 16:00:30 and was down until 18:00:30; samples kept arriving meanwhile.
    const samples = [];
    for (let ms = TEST_DAY_MS + 15 * HOUR_MS; ms < TEST_DAY_MS + 18 * HOUR_MS; ms += 10_000) {
      samples.push(minuteSample(A, new Date(ms).toISOString(), { cpu: 1, mem: 1, rx: ms / 1000 }));
    }
    await writer.write(samples);
    await minuteJob(TEST_DAY_MS + 16 * HOUR_MS + 30_000).run();
    const after = minuteJob(TEST_DAY_MS + 18 * HOUR_MS + 30_000);
    const due = await after.dueBuckets("container_minute");
    expect(due.map((bucket) => bucket.getTime())).toEqual(
      Array.from({ length: 120 }, (_, n) => TEST_DAY_MS + 16 * HOUR_MS + n * MINUTE_MS),
    );
    await after.run();
    const filled = await sql<{ minutes: number; short: number; moved: string }>`
      SELECT count(*)::int AS minutes, count(*) FILTER (WHERE samples <> 6 OR net_rx_bytes <> 60)::int AS short,
        sum(net_rx_bytes)::text AS moved
      FROM container_stats_minute
      WHERE container_id = ${a} AND bucket >= ${new Date(TEST_DAY_MS + 15 * HOUR_MS + MINUTE_MS)}
        AND bucket < ${new Date(TEST_DAY_MS + 18 * HOUR_MS)}`.execute(pg.db);
    // Every minute after the first (whose previous sample is from 10:03) moved 6 × 10 bytes.
    expect(filled.rows[0]).toEqual({ minutes: 179, short: 0, moved: String(179 * 60) });
  });

  it("leaves the minutes it wrote all-visible: a chart reads them from the covering key alone", async () => {
    // The last run computed 16:00–18:00 and vacuumed the day. A chart's columns are all in the
    // primary key (migration 0011), so on all-visible pages the scan never reads the heap.
    // Seq and bitmap scans are off only because this table is too small for the planner to
    // prefer an index; the query-plans test checks the choice on a realistic table.
    const client = await pg.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SET LOCAL enable_seqscan = off");
      await client.query("SET LOCAL enable_bitmapscan = off");
      const plan = await client.query<{ "QUERY PLAN": string }>(
        `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
         SELECT date_bin('5 minutes', bucket, '2000-01-01') AS t, sum(samples), sum(cpu_percent_sum),
           sum(cpu_percent_samples), max(cpu_percent_max), sum(mem_used_sum), max(mem_used_max), sum(mem_limit_sum)
         FROM container_stats_minute
         WHERE container_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1`,
        [a, new Date(TEST_DAY_MS + 16 * HOUR_MS), new Date(TEST_DAY_MS + 18 * HOUR_MS)],
      );
      await client.query("COMMIT");
      const text = plan.rows.map((row) => row["QUERY PLAN"]).join("\n");
      expect(text).toMatch(/Index Only Scan using container_stats_minute_p\d{8}_pkey/);
      expect(text).toMatch(/rows=120 /);
      expect(text).toMatch(/Heap Fetches: 0\b/);
    } finally {
      client.release();
    }
  });
});

describe("recomputing minutes", () => {
  it("rewrites no row whose values stayed the same (no dead versions to keep pages from being all-visible)", async () => {
    const pg = await openMigratedDatabase("minute-rewrite-test");
    try {
      const writer = new StatsWriter({ pool: pg.pool, directory: new ContainerDirectory(pg.db) });
      const samples = [];
      for (let c = 0; c < 5; c++) {
        for (const second of ["00", "20", "40"]) {
          samples.push(
            minuteSample(
              { external_id: c.toString(16).padStart(64, "f"), name: `f${c}` },
              testTime(`12:00:${second}.000`),
              {
                cpu: c,
                mem: 1,
                rx: 100,
              },
            ),
          );
        }
      }
      await writer.write(samples);
      const job = new RollupJob({
        db: pg.db,
        logger,
        rawRetentionDays: 7,
        granularities: ["minute"],
        now: () => new Date(testTime("12:02:00.000")),
      });
      await job.run();
      const versions = async () =>
        (
          await sql<{ container_id: number; version: string }>`
            SELECT container_id, xmin::text AS version FROM container_stats_minute ORDER BY container_id`.execute(
            pg.db,
          )
        ).rows;
      const before = await versions();
      expect(before).toHaveLength(5);
      // Made due again (as a late sample does) with nothing changed: computed, nothing written.
      await sql`
        UPDATE rollup_buckets SET generation = generation + 1
        WHERE series = 'container_minute' AND bucket = ${testTime("12:00:00.000")}::timestamptz`.execute(
        pg.db,
      );
      expect((await job.run()).computed).toBe(1);
      expect(await versions()).toEqual(before);
    } finally {
      await pg.close();
    }
  });
});

describe("contiguousRuns", () => {
  it("joins adjacent minutes and splits at gaps", () => {
    expect(contiguousRuns([0, MINUTE_MS, 3 * MINUTE_MS], MINUTE_MS)).toEqual([
      { fromMs: 0, toMs: 2 * MINUTE_MS },
      { fromMs: 3 * MINUTE_MS, toMs: 4 * MINUTE_MS },
    ]);
  });
});
