// Computes hourly and daily rollups of containers and hosts: every closed UTC bucket whose raw
// data still exists (the days the retention job keeps) that has not been computed, or that
// received samples after it was (late samples bump its generation, see rollup-marks.ts). On
// start this is the catch-up over every bucket missed while no store ran. Each bucket is computed in its own transaction under a
// Postgres advisory lock, and re-checked under it, so however many store instances run, each
// bucket is computed once per generation.
import type { Logger } from "@crowsnest/shared";
import { type Kysely, sql } from "kysely";
import type { StoreDatabase } from "../db/database.ts";
import { dayStart, oldestKeptDay, partitionName } from "../db/partitions.ts";
import {
  CONTAINER_ROLLUP,
  HOST_ROLLUP,
  type RollupGranularity,
  type RollupSeries,
  type RollupSpec,
} from "./rollup-spec.ts";
import { dailyFromHourlyStatement, rawRollupStatement } from "./rollup-sql.ts";

const HOUR_MS = 3_600_000;
/** Sorting one hour of 1000 containers' samples by (container, ts) for the counter deltas fits in memory. */
export const ROLLUP_WORK_MEM = "64MB";
const DAY_MS = 86_400_000;

/** Advisory lock class per series; the object id is the bucket's number (hours or days since the epoch). */
const LOCK_CLASS: Record<RollupSeries, number> = {
  container_hourly: 1131573770,
  host_hourly: 1131573771,
  container_daily: 1131573772,
  host_daily: 1131573773,
};

const ORDER: readonly { spec: RollupSpec; granularity: RollupGranularity }[] = [
  { spec: CONTAINER_ROLLUP, granularity: "hourly" },
  { spec: HOST_ROLLUP, granularity: "hourly" },
  // Daily after hourly: a day whose raw partition is gone is built from its hourly rows.
  { spec: CONTAINER_ROLLUP, granularity: "daily" },
  { spec: HOST_ROLLUP, granularity: "daily" },
];

export type BucketOutcome = "computed" | "current" | "busy";

export interface RollupRunSummary {
  computed: number;
  busy: number;
}

export interface RollupJobOptions {
  db: Kysely<StoreDatabase>;
  logger: Logger;
  rawRetentionDays: number;
  now?: () => Date;
}

export class RollupJob {
  readonly #db: Kysely<StoreDatabase>;
  readonly #logger: Logger;
  readonly #rawRetentionDays: number;
  readonly #now: () => Date;
  #stopping = false;

  constructor(options: RollupJobOptions) {
    this.#db = options.db;
    this.#logger = options.logger;
    this.#rawRetentionDays = options.rawRetentionDays;
    this.#now = options.now ?? (() => new Date());
  }

  /** Makes a running catch-up end after the bucket in hand (shutdown); the next start resumes it. */
  stop(): void {
    this.#stopping = true;
  }

  /** Computes every due bucket of every series, oldest first. */
  async run(): Promise<RollupRunSummary> {
    const summary: RollupRunSummary = { computed: 0, busy: 0 };
    for (const { spec, granularity } of ORDER) {
      const series: RollupSeries = `${spec.subject}_${granularity}`;
      const started = Date.now();
      let computed = 0;
      for (const bucket of await this.dueBuckets(series)) {
        if (this.#stopping) return summary;
        const outcome = await this.computeBucket(spec, granularity, bucket);
        if (outcome === "computed") computed += 1;
        if (outcome === "busy") summary.busy += 1;
      }
      summary.computed += computed;
      if (computed > 0) {
        this.#logger.info({ series, buckets: computed, ms: Date.now() - started }, "computed rollups");
      }
    }
    return summary;
  }

  /** Closed buckets whose raw data still exists that are not computed, or not since their last late sample. */
  async dueBuckets(series: RollupSeries): Promise<Date[]> {
    const width = series.endsWith("_hourly") ? HOUR_MS : DAY_MS;
    const nowMs = this.#now().getTime();
    // Retention keeps whole days, so every hour of the oldest day it keeps still has its raw
    // data (starting at now minus the retention missed that day's first hours).
    const firstMs = dayStart(oldestKeptDay(nowMs, this.#rawRetentionDays)).getTime();
    const endMs = Math.floor(nowMs / width) * width;
    const candidates: string[] = [];
    for (let ms = firstMs; ms + width <= endMs; ms += width) candidates.push(new Date(ms).toISOString());
    if (candidates.length === 0) return [];
    const result = await sql<{ bucket: Date }>`
      SELECT c.bucket
      FROM unnest(${candidates}::timestamptz[]) AS c(bucket)
      LEFT JOIN rollup_buckets r ON r.series = ${series} AND r.bucket = c.bucket
      WHERE r.series IS NULL OR r.computed_generation IS NULL OR r.computed_generation < r.generation
      ORDER BY c.bucket`.execute(this.#db);
    return result.rows.map((row) => row.bucket);
  }

  async computeBucket(
    spec: RollupSpec,
    granularity: RollupGranularity,
    bucket: Date,
  ): Promise<BucketOutcome> {
    const series: RollupSeries = `${spec.subject}_${granularity}`;
    const width = granularity === "hourly" ? HOUR_MS : DAY_MS;
    const end = new Date(bucket.getTime() + width);
    return this.#db.transaction().execute(async (trx) => {
      const lock = await sql<{ locked: boolean }>`
        SELECT pg_try_advisory_xact_lock(${LOCK_CLASS[series]}, ${Math.floor(bucket.getTime() / width)}) AS locked`.execute(
        trx,
      );
      if (lock.rows[0]?.locked !== true) return "busy";
      const state = await sql<{ generation: string; computed_generation: string | null }>`
        SELECT generation::text, computed_generation::text FROM rollup_buckets
        WHERE series = ${series} AND bucket = ${bucket}`.execute(trx);
      const row = state.rows[0];
      if (
        row &&
        row.computed_generation !== null &&
        BigInt(row.computed_generation) >= BigInt(row.generation)
      ) {
        return "current";
      }
      const generation = row ? row.generation : "0";
      await sql.raw(`SET LOCAL work_mem = '${ROLLUP_WORK_MEM}'`).execute(trx);
      let source = "raw";
      if (granularity === "hourly") {
        await rawRollupStatement(spec, "hourly", bucket, end).execute(trx);
      } else {
        const day = Math.floor(bucket.getTime() / DAY_MS);
        const exists = await sql<{ present: boolean }>`
          SELECT to_regclass(${partitionName(spec.raw, day)}) IS NOT NULL AS present`.execute(trx);
        if (exists.rows[0]?.present === true) {
          await rawRollupStatement(spec, "daily", bucket, end).execute(trx);
        } else {
          source = "hourly";
          await dailyFromHourlyStatement(spec, bucket, end).execute(trx);
        }
      }
      await sql`
        INSERT INTO rollup_buckets (series, bucket, generation, computed_generation, computed_at, computations, source)
        VALUES (${series}, ${bucket}, ${generation}::bigint, ${generation}::bigint, now(), 1, ${source})
        ON CONFLICT (series, bucket) DO UPDATE SET
          computed_generation = excluded.computed_generation,
          computed_at = now(),
          computations = rollup_buckets.computations + 1,
          source = excluded.source`.execute(trx);
      return "computed";
    });
  }
}
