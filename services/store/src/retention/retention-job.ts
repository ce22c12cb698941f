// Keeps the database to its configured ages, at any ingest rate:
// - raw samples (container_stats, host_stats) and minute and five-minute rollups
//   (container_stats_minute, container_stats_five_minute and the hosts') leave by whole UTC days: a day partition goes once its end is older than
//   its retention (DETACH … CONCURRENTLY, then DROP: no bloat,
//   and writers are never blocked behind a long lock). Raw data is kept between the retention
//   and the retention plus one day.
// - every other table is deleted from in batches by an indexed time column, each batch its own
//   short transaction, looping until nothing expired is left.
// It also creates the day partitions ahead of time, so writers normally find them.
import type { Logger } from "@crowsnest/shared";
import { type Kysely, sql } from "kysely";
import type { StoreDatabase } from "../db/database.ts";
import {
  dayNumber,
  ensureDayPartition,
  listDayPartitions,
  oldestKeptDay,
  type PartitionedTable,
} from "../db/partitions.ts";
import type { ConnectionPool } from "../ingest/stats-writer.ts";

const DAY_MS = 86_400_000;
const PARTITIONS_AHEAD_DAYS = 3;
const DELETE_BATCH_ROWS = 5000;
/** Only one instance at a time drops partitions (advisory lock class, object ids below). */
const LOCK_CLASS = 1131573780;

export interface RetentionDays {
  raw: number;
  minute: number;
  hourly: number;
  daily: number;
  events: number;
  alertHistory: number;
}

export interface RetentionSummary {
  droppedPartitions: string[];
  deletedRows: Record<string, number>;
}

export interface RetentionJobOptions {
  db: Kysely<StoreDatabase>;
  pool: ConnectionPool;
  logger: Logger;
  days: RetentionDays;
  now?: () => Date;
}

export class RetentionJob {
  readonly #db: Kysely<StoreDatabase>;
  readonly #pool: ConnectionPool;
  readonly #logger: Logger;
  readonly #days: RetentionDays;
  readonly #now: () => Date;
  #stopping = false;

  constructor(options: RetentionJobOptions) {
    this.#db = options.db;
    this.#pool = options.pool;
    this.#logger = options.logger;
    this.#days = options.days;
    this.#now = options.now ?? (() => new Date());
  }

  /** Makes a running pass end after the batch in hand (shutdown); the next run continues. */
  stop(): void {
    this.#stopping = true;
  }

  async run(): Promise<RetentionSummary> {
    const nowMs = this.#now().getTime();
    const summary: RetentionSummary = { droppedPartitions: [], deletedRows: {} };
    const partitioned = [
      ["container_stats", this.#days.raw],
      ["host_stats", this.#days.raw],
      ["container_stats_minute", this.#days.minute],
      ["host_stats_minute", this.#days.minute],
      // Five-minute rows are kept as long as the minutes they are made of.
      ["container_stats_five_minute", this.#days.minute],
      ["host_stats_five_minute", this.#days.minute],
    ] as const;
    for (const [table, days] of partitioned) {
      await this.createAhead(table, nowMs);
      summary.droppedPartitions.push(...(await this.dropExpired(table, oldestKeptDay(nowMs, days))));
    }
    const cutoff = (days: number) => new Date(nowMs - days * DAY_MS);
    const deletions: [table: string, column: string, before: Date][] = [
      ["container_stats_hourly", "bucket", cutoff(this.#days.hourly)],
      ["host_stats_hourly", "bucket", cutoff(this.#days.hourly)],
      ["container_stats_daily", "bucket", cutoff(this.#days.daily)],
      ["host_stats_daily", "bucket", cutoff(this.#days.daily)],
      ["container_events", "ts", cutoff(this.#days.events)],
      ["inventory_parts", "ts", cutoff(Math.min(this.#days.events, 7))],
      ["alert_history", "ts", cutoff(this.#days.alertHistory)],
      // Bookkeeping of buckets the rollup job can no longer recompute (their raw data is gone).
      ["rollup_buckets", "bucket", cutoff(this.#days.raw + 2)],
    ];
    for (const [table, column, before] of deletions) {
      const deleted = await this.deleteBefore(table, column, before);
      if (deleted > 0) summary.deletedRows[table] = deleted;
    }
    if (summary.droppedPartitions.length > 0 || Object.keys(summary.deletedRows).length > 0) {
      this.#logger.info(
        { dropped_partitions: summary.droppedPartitions, deleted_rows: summary.deletedRows },
        "retention removed expired data",
      );
    }
    return summary;
  }

  async createAhead(table: PartitionedTable, nowMs: number): Promise<void> {
    const today = dayNumber(new Date(nowMs));
    for (let day = today; day <= today + PARTITIONS_AHEAD_DAYS; day++) {
      await ensureDayPartition(this.#pool, table, day);
    }
  }

  /** Drops the day partitions older than `keptFromDay`; returns their names. */
  async dropExpired(table: PartitionedTable, keptFromDay: number): Promise<string[]> {
    const dropped: string[] = [];
    const partitions = await listDayPartitions(this.#pool, table);
    const expired = partitions.filter((partition) => partition.day < keptFromDay);
    if (expired.length === 0) return dropped;
    // A session-level lock (DETACH CONCURRENTLY cannot run in a transaction), so one connection.
    const client = await this.#pool.connect();
    try {
      for (const partition of expired.sort((a, b) => a.day - b.day)) {
        const claimed = await client.query<{ locked: boolean }>(
          "SELECT pg_try_advisory_lock($1, $2) AS locked",
          [LOCK_CLASS, partition.day],
        );
        if (claimed.rows[0]?.locked !== true) continue;
        try {
          // A detach interrupted earlier (a crash) is finished instead of started again.
          if (partition.attached) {
            await client.query(
              partition.detachPending
                ? `ALTER TABLE ${table} DETACH PARTITION ${partition.name} FINALIZE`
                : `ALTER TABLE ${table} DETACH PARTITION ${partition.name} CONCURRENTLY`,
            );
          }
          await client.query(`DROP TABLE IF EXISTS ${partition.name}`);
          dropped.push(partition.name);
        } catch (error) {
          // Another instance detached it between our listing and our lock.
          if (
            (error as { code?: unknown }).code !== "42P01" &&
            (error as { code?: unknown }).code !== "42P16"
          ) {
            throw error;
          }
        } finally {
          await client.query("SELECT pg_advisory_unlock($1, $2)", [LOCK_CLASS, partition.day]);
        }
      }
    } finally {
      client.release();
    }
    return dropped;
  }

  /** Deletes rows with `column < before` in short batches until none is left; returns how many. */
  async deleteBefore(table: string, column: string, before: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const result = await sql`
        DELETE FROM ${sql.table(table)} WHERE ctid = ANY(ARRAY(
          SELECT ctid FROM ${sql.table(table)} WHERE ${sql.ref(column)} < ${before} LIMIT ${DELETE_BATCH_ROWS}
        ))`.execute(this.#db);
      const deleted = Number(result.numAffectedRows ?? 0n);
      total += deleted;
      if (deleted < DELETE_BATCH_ROWS || this.#stopping) return total;
    }
  }
}
