// Computes the minute, five-minute, hourly and daily rollups of containers and hosts: every closed UTC bucket
// whose raw data still exists (the days the retention job keeps) that has not been computed, or
// that received samples after it was (late samples bump its generation, see rollup-marks.ts). On
// start this is the catch-up over every bucket missed while no store ran. Each bucket is computed
// in its own transaction under a Postgres advisory lock, and re-checked under it, so however many
// store instances run, each bucket is computed once per generation. One job serves the minute
// tier and another the hourly and daily ones (main.ts), so a long catch-up of one never holds up
// the other. Five-minute rows are made from minute rows, in the transaction that computes the
// last of their minutes or recomputes any of them (late samples), so they always add up to
// their five minute rows and need no bookkeeping of their own.
import type { Logger } from "@crowsnest/shared";
import { contiguousRuns } from "@crowsnest/shared/util/contiguous-runs";
import { type Kysely, sql } from "kysely";
import type { StoreDatabase } from "../db/database.ts";
import { dayStart, oldestKeptDay, partitionName } from "../db/partitions.ts";
import {
  CONTAINER_ROLLUP,
  HOST_ROLLUP,
  type RollupGranularity,
  type RollupSeries,
  type RollupSpec,
  rollupTable,
} from "./rollup-spec.ts";
import { rawRollupStatement, rollupFromFinerTierStatement } from "./rollup-sql.ts";

const MINUTE_MS = 60_000;
const FIVE_MINUTES_MS = 5 * MINUTE_MS;
const HOUR_MS = 3_600_000;
/** Sorting one hour of 1000 containers' samples by (container, ts) for the counter deltas fits in memory. */
export const ROLLUP_WORK_MEM = "64MB";
const DAY_MS = 86_400_000;

export const BUCKET_MS: Record<RollupGranularity, number> = {
  minute: MINUTE_MS,
  hourly: HOUR_MS,
  daily: DAY_MS,
};

/**
 * A minute is computed once it closed this long ago on Postgres' clock: samples reach the store
 * seconds after they were taken, so most minutes are complete by then and computed once. The
 * late marks of minutes (rollup-marks.ts) rely on it too: they let the store's clock lag
 * Postgres' by up to this much.
 */
export const MINUTE_SETTLE_MS = 20_000;

/**
 * How far into each interval the minute job runs (services/store/src/main.ts): as soon as the
 * minute just closed has settled, with a second's margin for the store's clock against
 * Postgres'. Every reader then finds a minute computed about 21 s after it closed rather than
 * 20 to 80 s after, and the sparklines read one minute from raw samples most of the time, not two.
 */
export const MINUTE_JOB_PHASE_MS = MINUTE_SETTLE_MS + 1000;

/** Advisory lock class per series; the object id is the bucket's number (minutes, hours or days since the epoch). */
const LOCK_CLASS: Record<RollupSeries, number> = {
  container_hourly: 1131573770,
  host_hourly: 1131573771,
  container_daily: 1131573772,
  host_daily: 1131573773,
  container_minute: 1131573774,
  host_minute: 1131573775,
};

const ORDER: readonly { spec: RollupSpec; granularity: RollupGranularity }[] = [
  { spec: CONTAINER_ROLLUP, granularity: "minute" },
  { spec: HOST_ROLLUP, granularity: "minute" },
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
  /** Which tiers this job computes; default hourly and daily. */
  granularities?: readonly RollupGranularity[];
  /** Minute rows older than this are not computed (retention would drop them again); default the raw retention. */
  minuteRetentionDays?: number;
  now?: () => Date;
}

export class RollupJob {
  readonly #db: Kysely<StoreDatabase>;
  readonly #logger: Logger;
  readonly #rawRetentionDays: number;
  readonly #minuteRetentionDays: number;
  readonly #order: typeof ORDER;
  readonly #now: () => Date;
  /** Minute partitions known to exist, so each day is ensured once per process. */
  readonly #minuteDays = new Set<string>();
  #stopping = false;

  constructor(options: RollupJobOptions) {
    this.#db = options.db;
    this.#logger = options.logger;
    this.#rawRetentionDays = options.rawRetentionDays;
    this.#minuteRetentionDays = options.minuteRetentionDays ?? options.rawRetentionDays;
    const granularities = options.granularities ?? ["hourly", "daily"];
    this.#order = ORDER.filter((entry) => granularities.includes(entry.granularity));
    this.#now = options.now ?? (() => new Date());
  }

  /** Makes a running catch-up end after the bucket in hand (shutdown); the next start resumes it. */
  stop(): void {
    this.#stopping = true;
  }

  /** Computes every due bucket of every series, oldest first. */
  async run(): Promise<RollupRunSummary> {
    const summary: RollupRunSummary = { computed: 0, busy: 0 };
    for (const { spec, granularity } of this.#order) {
      const series: RollupSeries = `${spec.subject}_${granularity}`;
      const started = Date.now();
      let computed = 0;
      const due = await this.dueBuckets(series);
      if (granularity === "minute") {
        const untilMs = this.#settledUntilMs(MINUTE_MS);
        const days = new Set(due.map((bucket) => Math.floor(bucket.getTime() / DAY_MS)));
        for (const day of days) await this.#summarizeNewRanges(spec, day);
        const writtenDays = new Set<number>();
        for (const hour of new Set(due.map((bucket) => Math.floor(bucket.getTime() / HOUR_MS) * HOUR_MS))) {
          if (this.#stopping) return summary;
          const outcome = await this.computeMinutes(spec, new Date(hour), untilMs);
          if (outcome === "busy") summary.busy += 1;
          else computed += outcome;
          if (outcome !== "busy" && outcome > 0) writtenDays.add(Math.floor(hour / DAY_MS));
        }
        // On shutdown the vacuum is left to the next run (or autovacuum): a long catch-up's
        // pages would hold the shutdown up.
        if (this.#stopping) return summary;
        for (const day of writtenDays) await this.vacuumMinutePartition(spec, day);
      } else {
        for (const bucket of due) {
          if (this.#stopping) return summary;
          const outcome = await this.computeBucket(spec, granularity, bucket);
          if (outcome === "computed") computed += 1;
          if (outcome === "busy") summary.busy += 1;
        }
      }
      summary.computed += computed;
      if (computed > 0) {
        this.#logger.info({ series, buckets: computed, ms: Date.now() - started }, "computed rollups");
      }
    }
    return summary;
  }

  /** The end of the last bucket closed (minutes: and settled) on the job's clock. */
  #settledUntilMs(width: number): number {
    const nowMs = this.#now().getTime();
    const settledMs = width === MINUTE_MS ? nowMs - MINUTE_SETTLE_MS : nowMs;
    return Math.floor(settledMs / width) * width;
  }

  /** Closed buckets whose raw data still exists that are not computed, or not since their last late sample. */
  async dueBuckets(series: RollupSeries): Promise<Date[]> {
    const width = BUCKET_MS[granularityOf(series)];
    const nowMs = this.#now().getTime();
    // Retention keeps whole days, so every hour of the oldest day it keeps still has its raw
    // data (starting at now minus the retention missed that day's first hours).
    let firstDay = oldestKeptDay(nowMs, this.#rawRetentionDays);
    if (width === MINUTE_MS) firstDay = Math.max(firstDay, oldestKeptDay(nowMs, this.#minuteRetentionDays));
    const firstMs = dayStart(firstDay).getTime();
    const lastStartMs = this.#settledUntilMs(width) - width;
    if (lastStartMs < firstMs) return [];
    const result = await sql<{ bucket: Date }>`
      SELECT c.bucket
      FROM generate_series(${new Date(firstMs)}::timestamptz, ${new Date(lastStartMs)}::timestamptz,
        make_interval(secs => ${width / 1000})) AS c(bucket)
      LEFT JOIN rollup_buckets r ON r.series = ${series} AND r.bucket = c.bucket
      WHERE r.series IS NULL OR r.computed_generation IS NULL OR r.computed_generation < r.generation
      ORDER BY c.bucket`.execute(this.#db);
    return result.rows.map((row) => row.bucket);
  }

  /** One hourly or daily bucket (minutes: computeMinutes). */
  async computeBucket(
    spec: RollupSpec,
    granularity: RollupGranularity,
    bucket: Date,
  ): Promise<BucketOutcome> {
    const series: RollupSeries = `${spec.subject}_${granularity}`;
    const width = BUCKET_MS[granularity];
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
          await rollupFromFinerTierStatement(spec, "daily", bucket, end).execute(trx);
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

  /**
   * The due minutes of one hour, in one transaction under one advisory lock per hour: the catch-up
   * then costs a statement per hour, not per minute, and steady state computes the minute or two
   * closed since the last run. Returns how many minutes it computed, or "busy" when another
   * instance holds the hour. Only minutes that ended before `untilMs` on the job's clock, and
   * settled on Postgres' (MINUTE_SETTLE_MS), are computed. Then the five-minute rows of every
   * five minutes one of those minutes falls in are made from their minute rows, if all five have
   * closed and settled: each is written once, with its last minute, and again whenever a late
   * sample has a minute of it recomputed.
   */
  async computeMinutes(spec: RollupSpec, hour: Date, untilMs: number): Promise<number | "busy"> {
    const series: RollupSeries = `${spec.subject}_minute`;
    await this.#ensureMinutePartition(spec, hour);
    return this.#db.transaction().execute(async (trx) => {
      const lock = await sql<{ locked: boolean }>`
        SELECT pg_try_advisory_xact_lock(${LOCK_CLASS[series]}, ${Math.floor(hour.getTime() / HOUR_MS)}) AS locked`.execute(
        trx,
      );
      if (lock.rows[0]?.locked !== true) return "busy";
      // On Postgres' clock, which the late marks use too (rollup-marks.ts): a sample committed
      // after this transaction began then always marks its minute again.
      const due = await sql<{ bucket: Date; generation: string; settled_until: Date }>`
        SELECT c.bucket, coalesce(r.generation, 0)::text AS generation,
          now() - make_interval(secs => ${MINUTE_SETTLE_MS / 1000}) AS settled_until
        FROM generate_series(${hour}::timestamptz, ${hour}::timestamptz + interval '59 minutes', interval '1 minute') AS c(bucket)
        LEFT JOIN rollup_buckets r ON r.series = ${series} AND r.bucket = c.bucket
        WHERE c.bucket + interval '1 minute' <= ${new Date(untilMs)}::timestamptz
          AND c.bucket + interval '1 minute' + make_interval(secs => ${MINUTE_SETTLE_MS / 1000}) <= now()
          AND (r.series IS NULL OR r.computed_generation IS NULL OR r.computed_generation < r.generation)
        ORDER BY c.bucket`.execute(trx);
      if (due.rows.length === 0) return 0;
      await sql.raw(`SET LOCAL work_mem = '${ROLLUP_WORK_MEM}'`).execute(trx);
      for (const run of contiguousRuns(
        due.rows.map((row) => row.bucket.getTime()),
        MINUTE_MS,
      )) {
        await rawRollupStatement(spec, "minute", new Date(run.fromMs), new Date(run.toMs)).execute(trx);
      }
      const closedUntilMs = Math.min(untilMs, due.rows[0]?.settled_until.getTime() ?? 0);
      const fiveMinutes = [
        ...new Set(
          due.rows.map((row) => Math.floor(row.bucket.getTime() / FIVE_MINUTES_MS) * FIVE_MINUTES_MS),
        ),
      ].filter((startMs) => startMs + FIVE_MINUTES_MS <= closedUntilMs);
      for (const run of contiguousRuns(fiveMinutes, FIVE_MINUTES_MS)) {
        await rollupFromFinerTierStatement(
          spec,
          "five_minute",
          new Date(run.fromMs),
          new Date(run.toMs),
        ).execute(trx);
      }
      await sql`
        INSERT INTO rollup_buckets (series, bucket, generation, computed_generation, computed_at, computations, source)
        SELECT ${series}, u.bucket, u.generation, u.generation, now(), 1, 'raw'
        FROM unnest(${due.rows.map((row) => row.bucket.toISOString())}::timestamptz[],
          ${due.rows.map((row) => row.generation)}::bigint[]) AS u(bucket, generation)
        ON CONFLICT (series, bucket) DO UPDATE SET
          computed_generation = excluded.computed_generation,
          computed_at = now(),
          computations = rollup_buckets.computations + 1,
          source = excluded.source`.execute(trx);
      return due.rows.length;
    });
  }

  /**
   * Brings the BRIN index on ts of a raw day partition up to date. Postgres summarizes the page
   * ranges written since the last vacuum only when autovacuum next runs, which on a busy day
   * partition can be hours away, and a scan by ts reads every unsummarized range: the minute
   * just closed would cost a scan of everything written since. Summarizing what is new each
   * minute reads only the pages written in that minute.
   */
  async #summarizeNewRanges(spec: RollupSpec, day: number): Promise<void> {
    await sql`
      SELECT brin_summarize_new_values(i.indexrelid::regclass)
      FROM pg_index i
      JOIN pg_class x ON x.oid = i.indexrelid
      JOIN pg_am a ON a.oid = x.relam
      WHERE i.indrelid = to_regclass(${partitionName(spec.raw, day)}) AND a.amname = 'brin'`.execute(
      this.#db,
    );
  }

  /**
   * Marks the minute and five-minute rows just written all-visible, so charts read them by an
   * index-only scan of the covering primary keys (migrations 0011, 0012) and never visit the heap. Autovacuum would do it
   * only after a fifth of the partition's rows were new (hours of minutes), and a row on a page
   * not marked costs a heap fetch. Only the pages written since the last vacuum are scanned and,
   * with no dead rows, no index is, so this costs a few milliseconds. SKIP_LOCKED: a vacuum
   * already running (autovacuum, another instance) does the same.
   */
  async vacuumMinutePartition(spec: RollupSpec, day: number): Promise<void> {
    const partitions = (["minute", "five_minute"] as const).map((tier) =>
      partitionName(`${spec.raw}_${tier}`, day),
    );
    await sql.raw(`VACUUM (SKIP_LOCKED) ${partitions.join(", ")}`).execute(this.#db);
  }

  /** The minute and five-minute tables' day partitions (the retention job also creates days ahead). */
  async #ensureMinutePartition(spec: RollupSpec, bucket: Date): Promise<void> {
    const date = bucket.toISOString().slice(0, 10);
    for (const table of [rollupTable(spec, "minute"), rollupTable(spec, "five_minute")]) {
      const key = `${table} ${date}`;
      if (this.#minuteDays.has(key)) continue;
      await sql`SELECT crowsnest_ensure_day_partition(${table}, ${date}::date)`.execute(this.#db);
      this.#minuteDays.add(key);
    }
  }
}

function granularityOf(series: RollupSeries): RollupGranularity {
  return series.slice(series.indexOf("_") + 1) as RollupGranularity;
}
