// Rollups against real Postgres, on fixed data whose every value is computed by hand below:
// bucket edges, a counter reset, a container with a gap, daily from raw and from hourly, the
// catch-up after an outage, and a late sample.
import { createLogger, type HostStatsMessage } from "@crowsnest/shared";
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statsFixture } from "../../../../test/support/bus-fixtures.ts";
import { createTestDatabase, type TestDatabase } from "../../../../test/support/test-env.ts";
import type { StoreDatabase } from "../db/database.ts";
import { migrateToLatest } from "../db/migrations.ts";
import { ContainerDirectory } from "../ingest/container-directory.ts";
import { HostStatsWriter } from "../ingest/host-stats-writer.ts";
import { StatsWriter } from "../ingest/stats-writer.ts";
import { RollupJob } from "./rollup-job.ts";

const logger = createLogger({ service: "store", level: "silent" });
const A = { external_id: "a".repeat(64), name: "a" };
const B = { external_id: "b".repeat(64), name: "b" };
const D = { external_id: "d".repeat(64), name: "d" };

const at = (time: string) => `2026-11-21T${time}Z`;
const sample = (
  container: { external_id: string; name: string },
  ts: string,
  values: {
    cpu: number | null;
    mem: number;
    limit: number | null;
    rx: number | null;
    tx?: number | null;
    rate: number | null;
    pids?: number | null;
  },
) =>
  statsFixture({
    container,
    ts,
    cpu_percent: values.cpu,
    pids: values.pids === undefined ? 1 : values.pids,
    mem_used: values.mem,
    mem_limit: values.limit,
    net_rx_bytes: values.rx,
    net_tx_bytes: values.tx ?? null,
    net_rx_bytes_per_s: values.rate,
    blk_read_bytes: null,
    blk_write_bytes: null,
  });

describe("rollups", () => {
  let database: TestDatabase;
  let pg: PostgresHandle<StoreDatabase>;
  let writer: StatsWriter;
  let ids: Record<string, number>;
  const job = (now: string) =>
    new RollupJob({ db: pg.db, logger, rawRetentionDays: 7, now: () => new Date(now) });

  const hourly = async (containerId: number, bucket: string) => {
    const result = await sql<Record<string, unknown>>`
      SELECT * FROM container_stats_hourly WHERE container_id = ${containerId} AND bucket = ${bucket}::timestamptz`.execute(
      pg.db,
    );
    return result.rows[0];
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    pg = openPostgres<StoreDatabase>({
      url: database.url,
      poolSize: 4,
      applicationName: "rollup-test",
      onIdleError: () => {},
    });
    await migrateToLatest(pg.db);
    writer = new StatsWriter({ pool: pg.pool, directory: new ContainerDirectory(pg.db) });
    const written = await writer.write([
      // A: one sample in hour 00, three in hour 01 (one exactly on its start, one 1 ms before
      // its end), one on the start of hour 02. Its rx counter resets at 01:30 (a restart).
      sample(A, at("00:59:50.000"), { cpu: 10, mem: 100, limit: 1000, rx: 1000, rate: 5 }),
      sample(A, at("01:00:00.000"), { cpu: 20, mem: 200, limit: 1000, rx: 1500, rate: 50, pids: 4 }),
      sample(A, at("01:30:00.000"), { cpu: 40, mem: 400, limit: 1000, rx: 300, rate: null, pids: 9 }),
      sample(A, at("01:59:59.999"), { cpu: null, mem: 300, limit: null, rx: 800, rate: 10, pids: null }),
      sample(A, at("02:00:00.000"), { cpu: 60, mem: 600, limit: 2000, rx: 900, rate: 20 }),
      // B: one sample in hour 01, then nothing until 03:20 (a gap over hour 02).
      sample(B, at("01:10:00.000"), { cpu: 5, mem: 50, limit: null, rx: 100, tx: 10, rate: null }),
      sample(B, at("03:20:00.000"), { cpu: 7, mem: 70, limit: null, rx: 400, tx: 40, rate: null }),
      sample(B, at("03:30:00.000"), { cpu: 9, mem: 90, limit: null, rx: 450, tx: 45, rate: null }),
    ]);
    ids = { a: written[0] ?? 0, b: written[5] ?? 0 };
    const hosts = new HostStatsWriter({ pool: pg.pool });
    const host = (ts: string, cpu: number | null, used: number): HostStatsMessage => ({
      v: 1,
      host: "node-1",
      ts,
      cpu_percent: cpu,
      online_cpus: 2,
      mem_total: 1000,
      mem_used: used,
      mem_available: 1000 - used,
      load_1: used / 100,
      load_5: 0,
      load_15: 0,
      uptime_s: 1,
    });
    await hosts.write([
      host(at("01:00:00.000"), null, 100),
      host(at("01:00:10.000"), 30, 300),
      host(at("01:59:00.000"), 60, 200),
    ]);
  });

  afterAll(async () => {
    await pg?.destroy();
    await database?.drop();
  });

  it("computes every closed hour exactly, edges, a counter reset and a gap included", async () => {
    await job(at("04:10:00.000")).run();
    expect(await hourly(ids.a ?? 0, at("00:00:00.000"))).toMatchObject({
      samples: 1,
      cpu_percent_samples: 1,
      cpu_percent_sum: 10,
      cpu_percent_max: 10,
      mem_used_max: 100,
      mem_limit_avg: 1000,
      net_rx_bytes: null, // no earlier sample to take a difference from
    });
    expect(await hourly(ids.a ?? 0, at("01:00:00.000"))).toMatchObject({
      samples: 3,
      cpu_percent_samples: 2,
      cpu_percent_sum: 60,
      cpu_percent_avg: 30,
      cpu_percent_max: 40,
      mem_used_samples: 3,
      mem_used_sum: 900,
      mem_used_avg: 300,
      mem_used_max: 400,
      mem_limit_samples: 2,
      mem_limit_avg: 1000,
      net_rx_bytes_per_s_samples: 2,
      net_rx_bytes_per_s_avg: 30,
      net_rx_bytes_per_s_max: 50,
      // 1000 → 1500 across the edge (+500), reset to 300 (+300), 300 → 800 (+500).
      net_rx_bytes: 1300,
      net_tx_bytes: null,
      blk_read_bytes: null,
      // A sample without pids (null) counts in no pids average.
      pids_samples: 2,
      pids_sum: 13,
      pids_max: 9,
    });
    expect(await hourly(ids.a ?? 0, at("02:00:00.000"))).toMatchObject({
      samples: 1,
      cpu_percent_avg: 60,
      mem_limit_avg: 2000,
      net_rx_bytes: 100,
    });
    expect(await hourly(ids.b ?? 0, at("01:00:00.000"))).toMatchObject({ samples: 1, net_rx_bytes: null });
    expect(await hourly(ids.b ?? 0, at("02:00:00.000"))).toBeUndefined();
    // The bytes moved over the gap land in the first hour after it: 300 + 50, and 30 + 5.
    expect(await hourly(ids.b ?? 0, at("03:00:00.000"))).toMatchObject({
      samples: 2,
      cpu_percent_sum: 16,
      cpu_percent_max: 9,
      mem_limit_samples: 0,
      mem_limit_avg: null,
      net_rx_bytes: 350,
      net_tx_bytes: 35,
    });
    const host = await sql<Record<string, unknown>>`
      SELECT * FROM host_stats_hourly WHERE bucket = ${at("01:00:00.000")}::timestamptz`.execute(pg.db);
    expect(host.rows).toEqual([
      expect.objectContaining({
        samples: 3,
        cpu_percent_samples: 2,
        cpu_percent_avg: 45,
        cpu_percent_max: 60,
        mem_used_avg: 200,
        mem_used_max: 300,
        mem_total_avg: 1000,
        load_1_max: 3,
      }),
    ]);
    // The open hour (04:00) is not computed, and nothing is computed twice on the next run.
    expect(await hourly(ids.a ?? 0, at("04:00:00.000"))).toBeUndefined();
    expect(await job(at("04:10:00.000")).run()).toEqual({ computed: 0, busy: 0 });
  });

  it("recomputes an hour that received a late sample, once", async () => {
    // As the stats consumer does: write, then mark the closed buckets before acknowledging.
    const late = [sample(A, at("01:45:00.000"), { cpu: 100, mem: 1000, limit: 1000, rx: 700, rate: 1 })];
    await writer.markLateBuckets(late, await writer.write(late));
    await job(at("04:10:00.000")).run();
    // 1000 → 1500 (+500), reset to 300 (+300), 300 → 700 (+400), 700 → 800 (+100).
    expect(await hourly(ids.a ?? 0, at("01:00:00.000"))).toMatchObject({
      samples: 4,
      cpu_percent_max: 100,
      net_rx_bytes: 1300,
      mem_used_max: 1000,
    });
    const bookkeeping = await sql<{ computations: number }>`
      SELECT computations FROM rollup_buckets
      WHERE series = 'container_hourly' AND bucket = ${at("01:00:00.000")}::timestamptz`.execute(pg.db);
    expect(bookkeeping.rows[0]?.computations).toBe(2);
  });

  it("builds the day from raw samples, and identically from hourly rows once raw is gone", async () => {
    const nextDay = "2026-11-22T00:30:00.000Z";
    await job(nextDay).run();
    const daily = async () =>
      (
        await sql<Record<string, unknown>>`
          SELECT * FROM container_stats_daily WHERE container_id = ${ids.a ?? 0}`.execute(pg.db)
      ).rows;
    const fromRaw = await daily();
    expect(fromRaw).toEqual([
      expect.objectContaining({
        samples: 6,
        cpu_percent_samples: 5,
        cpu_percent_sum: 230, // 10 + 20 + 40 + 100 + 60
        cpu_percent_max: 100,
        mem_used_sum: 2600,
        mem_limit_samples: 5,
        mem_limit_sum: 6000,
        net_rx_bytes: 1400, // the hourly rows' 1300 + 100: nothing before 00:59:50 that day
        pids_samples: 5, // 1 + 4 + 9 + 1 (late) + 1; the null one not counted
        pids_sum: 16,
        pids_max: 9,
      }),
    ]);
    const source = await sql<{ source: string }>`
      SELECT source FROM rollup_buckets WHERE series = 'container_daily' AND bucket = '2026-11-21T00:00:00Z'`.execute(
      pg.db,
    );
    expect(source.rows[0]?.source).toBe("raw");

    await sql`ALTER TABLE container_stats DETACH PARTITION container_stats_p20261121`.execute(pg.db);
    await sql`DROP TABLE container_stats_p20261121`.execute(pg.db);
    await sql`UPDATE rollup_buckets SET generation = generation + 1 WHERE series = 'container_daily'`.execute(
      pg.db,
    );
    await job(nextDay).run();
    const fromHourly = await daily();
    expect(fromHourly).toEqual(fromRaw);
    const again = await sql<{ source: string }>`
      SELECT source FROM rollup_buckets WHERE series = 'container_daily' AND bucket = '2026-11-21T00:00:00Z'`.execute(
      pg.db,
    );
    expect(again.rows[0]?.source).toBe("hourly");
  });

  it("catches up on every hour missed during a 3-hour outage", async () => {
    const samples = [];
    for (let minute = 5 * 60; minute < 11 * 60; minute += 10) {
      const ts = new Date(Date.parse("2026-11-20T00:00:00.000Z") + minute * 60_000).toISOString();
      samples.push(sample(D, ts, { cpu: 1, mem: 1, limit: null, rx: minute, rate: null }));
    }
    const written = await writer.write(samples);
    const [dId] = written;
    await writer.markLateBuckets(samples, written);
    const before = job("2026-11-20T06:05:00.000Z");
    await before.run();
    const rows = async () =>
      (
        await sql<{ bucket: Date; samples: number }>`
          SELECT bucket, samples FROM container_stats_hourly WHERE container_id = ${dId ?? 0} ORDER BY bucket`.execute(
          pg.db,
        )
      ).rows.map((row) => `${row.bucket.toISOString().slice(11, 13)}h:${row.samples}`);
    expect(await rows()).toEqual(["05h:6"]);
    // The store was down from 06:05 to 09:05: the hours 06, 07 and 08 closed meanwhile.
    const after = job("2026-11-20T09:05:00.000Z");
    expect((await after.dueBuckets("container_hourly")).map((bucket) => bucket.toISOString())).toEqual([
      "2026-11-20T06:00:00.000Z",
      "2026-11-20T07:00:00.000Z",
      "2026-11-20T08:00:00.000Z",
    ]);
    await after.run();
    expect(await rows()).toEqual(["05h:6", "06h:6", "07h:6", "08h:6"]);
  });
});
