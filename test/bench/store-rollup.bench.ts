// The hourly rollup of 1 M raw rows (1000 containers, 1000 samples each over 24 h), as the
// store's rollup job computes it (per bucket: advisory lock, bookkeeping, upsert), against the
// same aggregate INSERT … SELECT run bare for the same 24 buckets, and against one plain
// GROUP BY of averages and maxima without byte deltas (what peers compute), for scale.
// Figures only; nothing is asserted.
import { createLogger } from "@crowsnest/shared";
import { openPostgres } from "@crowsnest/shared/postgres";
import type { StoreDatabase } from "../../services/store/src/db/database.ts";
import { dayNumber, ensureDayPartition } from "../../services/store/src/db/partitions.ts";
import { benchDatabase, median } from "../../services/store/src/fixtures/bench-database.ts";
import { ROLLUP_WORK_MEM, RollupJob } from "../../services/store/src/rollup/rollup-job.ts";
import { CONTAINER_ROLLUP } from "../../services/store/src/rollup/rollup-spec.ts";
import { rawRollupStatement } from "../../services/store/src/rollup/rollup-sql.ts";

const ROUNDS = Number(process.env.BENCH_STORE_ROUNDS ?? 3);
const DAY = "2026-11-20T00:00:00.000Z";
const HOUR_MS = 3_600_000;

export async function run(): Promise<void> {
  const database = await benchDatabase("rollup");
  const pg = openPostgres<StoreDatabase>({
    url: database.url,
    poolSize: 2,
    applicationName: "crowsnest-bench",
    onIdleError: () => undefined,
  });
  const timings: Record<string, number[]> = { job: [], bare: [], naive: [] };
  try {
    await ensureDayPartition(pg.pool, "container_stats", dayNumber(DAY));
    const loadStarted = Date.now();
    // 1000 samples per container spread over the day (every 86.4 s), counters growing.
    await pg.pool.query(
      `INSERT INTO container_stats (container_id, ts, interval_ms, cpu_percent, online_cpus, mem_used, mem_limit,
        net_rx_bytes, net_tx_bytes, net_rx_bytes_per_s, net_tx_bytes_per_s, blk_read_bytes, blk_write_bytes,
        blk_read_bytes_per_s, blk_write_bytes_per_s, pids)
      SELECT c, $1::timestamptz + s * interval '86.4 seconds', 86400, (c + s) % 100, 2, 1000000 + s, 2000000,
        s * 1000, s * 500, 11.5, 5.8, s * 4096, s * 100, 47.4, 1.2, 3
      FROM generate_series(0, 999) s, generate_series(1, 1000) c ORDER BY s, c`,
      [DAY],
    );
    await pg.pool.query("VACUUM ANALYZE container_stats");
    console.log(`loaded 1 000 000 raw rows in ${Date.now() - loadStarted} ms`);
    const buckets = Array.from({ length: 24 }, (_, h) => new Date(Date.parse(DAY) + h * HOUR_MS));
    const reset = async () => {
      await pg.pool.query("TRUNCATE container_stats_hourly, rollup_buckets");
      await pg.pool.query("CHECKPOINT");
    };
    const logger = createLogger({ service: "store", level: "silent" });
    for (let round = 0; round < ROUNDS; round++) {
      await reset();
      const job = new RollupJob({
        db: pg.db,
        logger,
        rawRetentionDays: 2,
        now: () => new Date("2026-11-21T00:30:00.000Z"),
      });
      let started = Date.now();
      for (const bucket of await job.dueBuckets("container_hourly")) {
        await job.computeBucket(CONTAINER_ROLLUP, "hourly", bucket);
      }
      timings.job?.push(Date.now() - started);

      await reset();
      started = Date.now();
      // The same statements with the same work_mem, without the job's transaction per bucket,
      // advisory lock and bookkeeping.
      const client = await pg.pool.connect();
      try {
        await client.query(`SET work_mem = '${ROLLUP_WORK_MEM}'`);
        for (const bucket of buckets) {
          const compiled = rawRollupStatement(
            CONTAINER_ROLLUP,
            "hourly",
            bucket,
            new Date(bucket.getTime() + HOUR_MS),
          ).compile(pg.db);
          await client.query(compiled.sql, [...compiled.parameters]);
        }
      } finally {
        await client.query("RESET work_mem");
        client.release();
      }
      timings.bare?.push(Date.now() - started);

      await reset();
      started = Date.now();
      await pg.pool.query(
        `INSERT INTO container_stats_hourly (container_id, bucket, samples, cpu_percent_samples, cpu_percent_sum,
          cpu_percent_max, mem_used_samples, mem_used_sum, mem_used_max, mem_limit_samples, mem_limit_sum,
          net_rx_bytes_per_s_samples, net_tx_bytes_per_s_samples, blk_read_bytes_per_s_samples,
          blk_write_bytes_per_s_samples)
        SELECT container_id, date_trunc('hour', ts), count(*), count(cpu_percent), sum(cpu_percent), max(cpu_percent),
          count(mem_used), sum(mem_used), max(mem_used), count(mem_limit), sum(mem_limit), 0, 0, 0, 0
        FROM container_stats WHERE ts >= $1::timestamptz AND ts < $1::timestamptz + interval '1 day'
        GROUP BY 1, 2
        ON CONFLICT (container_id, bucket) DO NOTHING`,
        [DAY],
      );
      timings.naive?.push(Date.now() - started);
    }
    const rows = await pg.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM container_stats_hourly");
    const job = median(timings.job ?? []);
    const bare = median(timings.bare ?? []);
    const naive = median(timings.naive ?? []);
    console.log(
      `hourly rollup of 1 M raw rows → ${rows.rows[0]?.n} hourly rows per run, ${ROUNDS} rounds (median ms)`,
    );
    console.table([
      { what: "rollup job (24 buckets: lock, bookkeeping, upsert)", ms: job, runs: `${timings.job}` },
      { what: "bare aggregate INSERT … SELECT, same 24 statements", ms: bare, runs: `${timings.bare}` },
      { what: "naive GROUP BY (avg/max only, no byte deltas)", ms: naive, runs: `${timings.naive}` },
    ]);
    console.log(
      `job / bare = ${(job / Math.max(bare, 1)).toFixed(2)}×; job / naive GROUP BY = ${(job / Math.max(naive, 1)).toFixed(2)}×`,
    );
  } finally {
    await pg.destroy();
    await database.drop();
  }
}
