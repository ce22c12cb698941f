// Day partitions of the raw tables (container_stats, host_stats) and of the minute and
// five-minute rollups (container_stats_minute, container_stats_five_minute, and the hosts'): named `<table>_pYYYYMMDD`, covering [day, day + 1)
// in UTC. Writers make sure the days of a batch exist before inserting
// (cached, so steady-state ingest asks nothing); the maintenance job creates days ahead and
// drops whole expired days.

export type PartitionedTable =
  | "container_stats"
  | "host_stats"
  | "container_stats_minute"
  | "host_stats_minute"
  | "container_stats_five_minute"
  | "host_stats_five_minute";

/** The subset of pg's Pool or PoolClient this needs. */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

const DAY_MS = 86_400_000;

/** Days since the Unix epoch (UTC) of an RFC 3339 timestamp or a Date. */
export function dayNumber(ts: string | Date): number {
  const ms = typeof ts === "string" ? Date.parse(ts) : ts.getTime();
  return Math.floor(ms / DAY_MS);
}

export function dayStart(day: number): Date {
  return new Date(day * DAY_MS);
}

/**
 * The oldest UTC day whose partition the retention job keeps at `nowMs`: a day goes once its end
 * is `rawRetentionDays` old (retention/retention-job.ts), so raw data reaches back to its start.
 * The one rule for retention (drops the days before it), the rollup catch-up (starts at it) and
 * ingest (refuses samples from the days before it rather than storing them in a partition the
 * next retention run drops).
 */
export function oldestKeptDay(nowMs: number, rawRetentionDays: number): number {
  return Math.floor((nowMs - rawRetentionDays * DAY_MS) / DAY_MS);
}

export function partitionName(table: PartitionedTable, day: number): string {
  return `${table}_p${dayStart(day).toISOString().slice(0, 10).replaceAll("-", "")}`;
}

/** The day a partition name stands for, or undefined for a name this module did not make. */
export function partitionDay(table: PartitionedTable, name: string): number | undefined {
  const match = new RegExp(`^${table}_p(\\d{4})(\\d{2})(\\d{2})$`).exec(name);
  if (!match) return undefined;
  return dayNumber(`${match[1]}-${match[2]}-${match[3]}T00:00:00.000Z`);
}

export async function ensureDayPartition(
  db: Queryable,
  table: PartitionedTable,
  day: number,
): Promise<boolean> {
  const result = await db.query<{ created: boolean }>(
    "SELECT crowsnest_ensure_day_partition($1, $2::date) AS created",
    [table, dayStart(day).toISOString().slice(0, 10)],
  );
  return result.rows[0]?.created === true;
}

/** The day tables of `table`: attached partitions, and tables detached but not yet dropped (a crash in between). */
export async function listDayPartitions(
  db: Queryable,
  table: PartitionedTable,
): Promise<{ name: string; day: number; attached: boolean; detachPending: boolean }[]> {
  const result = await db.query<{ name: string; attached: boolean; detach_pending: boolean }>(
    `SELECT c.relname AS name, i.inhrelid IS NOT NULL AS attached,
       coalesce(i.inhdetachpending, false) AS detach_pending
     FROM pg_class c
     LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
     WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
       AND c.relname LIKE $1 || '\\_p%'`,
    [table],
  );
  return result.rows.flatMap((row) => {
    const day = partitionDay(table, row.name);
    return day === undefined
      ? []
      : [{ name: row.name, day, attached: row.attached, detachPending: row.detach_pending }];
  });
}

/** Remembers which days exist, so a writer asks Postgres only about days it has not seen. */
export class DayPartitionCache {
  readonly #table: PartitionedTable;
  readonly #known = new Set<number>();

  constructor(table: PartitionedTable) {
    this.#table = table;
  }

  async ensure(db: Queryable, days: Iterable<number>): Promise<void> {
    for (const day of new Set(days)) {
      if (this.#known.has(day)) continue;
      await ensureDayPartition(db, this.#table, day);
      this.#known.add(day);
    }
  }

  /** The days of RFC 3339 UTC timestamps, read from their date part (no parsing per sample). */
  async ensureFor(db: Queryable, timestamps: readonly string[]): Promise<void> {
    const dates = new Set<string>();
    for (const ts of timestamps) dates.add(ts.slice(0, 10));
    await this.ensure(
      db,
      [...dates].map((date) => dayNumber(`${date}T00:00:00.000Z`)),
    );
  }

  /** After "no partition of relation found" (retention dropped a day this cache still knew). */
  forget(): void {
    this.#known.clear();
  }
}

/** SQLSTATE 23514 with this text: a row for which no partition exists. */
export function isMissingPartitionError(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error as { code?: unknown }).code === "23514" &&
    error.message.includes("no partition of relation")
  );
}
