// What the minute, hourly and daily rollups hold, declared once: migrations 0003 (hourly, daily)
// and 0007 (minute) create the tables from it, the rollup job builds its statements from it and
// the tables' TypeScript row types (db/database.ts) are derived from it, so they cannot
// disagree. The tables have shipped with the gauges that have no `addedBy`: a later gauge names
// the migration that adds its columns (`addedGaugeSql`), and 0003 and 0007 leave it out, so
// they create what they always created.
//
// Every averaged value keeps its sum and the number of samples that had it, so daily rows
// built from hourly rows are exact (sample-weighted). The shipped gauges' hourly and daily
// averages are also generated columns; nothing reads them (readers divide the sums), and a
// later gauge gets none: adding a stored generated column rewrites the whole table.

import type { ColumnType } from "kysely";

export type RollupGranularity = "minute" | "hourly" | "daily";
/**
 * The tiers kept as tables: the rollup job's series, and five-minute rows it makes from the
 * minute rows of each five minutes once all of them are computed (no series of their own: they
 * are recomputed with their minutes, rollup-job.ts).
 */
export type RollupTier = RollupGranularity | "five_minute";
export type RollupSubject = "container" | "host";
export type RollupSeries = `${RollupSubject}_${RollupGranularity}`;

export interface Gauge {
  /** Raw column, also the prefix of the rollup columns `<column>_samples|_sum|_avg|_max`. */
  column: string;
  /** SQL type of the sum and max (bigint for bytes, exact; double for percentages and rates). */
  type: "bigint" | "double precision";
  max: boolean;
  /** The migration that added this gauge's columns to the shipped tables; unset: there from the start. */
  addedBy?: string;
}

export interface RollupSpec {
  subject: RollupSubject;
  raw: "container_stats" | "host_stats";
  key: "container_id" | "host_id";
  gauges: readonly Gauge[];
  /** Cumulative byte counters: `<column>` in the rollup is the bytes moved within the bucket. */
  counters: readonly string[];
}

export const CONTAINER_ROLLUP = {
  subject: "container",
  raw: "container_stats",
  key: "container_id",
  gauges: [
    { column: "cpu_percent", type: "double precision", max: true },
    { column: "mem_used", type: "bigint", max: true },
    { column: "mem_limit", type: "bigint", max: false },
    { column: "net_rx_bytes_per_s", type: "double precision", max: true },
    { column: "net_tx_bytes_per_s", type: "double precision", max: true },
    { column: "blk_read_bytes_per_s", type: "double precision", max: true },
    { column: "blk_write_bytes_per_s", type: "double precision", max: true },
    // Average and maximum like the other gauges: the maximum is what meets a pids limit (a fork
    // storm between two samples of a minute still shows), the average the trend; both stay exact
    // through the tiers, which a "last value" per bucket would not.
    { column: "pids", type: "bigint", max: true, addedBy: "0009-rollup-pids" },
  ],
  counters: ["net_rx_bytes", "net_tx_bytes", "blk_read_bytes", "blk_write_bytes"],
} as const satisfies RollupSpec;

export const HOST_ROLLUP = {
  subject: "host",
  raw: "host_stats",
  key: "host_id",
  gauges: [
    { column: "cpu_percent", type: "double precision", max: true },
    { column: "mem_used", type: "bigint", max: true },
    { column: "mem_total", type: "bigint", max: false },
    { column: "load_1", type: "double precision", max: true },
  ],
  counters: [],
} as const satisfies RollupSpec;

export const ROLLUP_SPECS: readonly RollupSpec[] = [CONTAINER_ROLLUP, HOST_ROLLUP];

type GaugeOf<S extends RollupSpec> = S["gauges"][number];

/**
 * A rollup row's columns as `rollupColumns` and `rollupTableSql` create them (without key and
 * bucket): per gauge its samples, sum, maximum (if kept) and generated average, then the
 * counters. Ids and byte counts read as numbers (the pool's int8 parser).
 */
export type RollupRow<S extends RollupSpec> = { samples: number } & {
  [G in GaugeOf<S> as `${G["column"]}_samples`]: number;
} & { [G in GaugeOf<S> as `${G["column"]}_sum`]: number | null } & {
  [G in GaugeOf<S> as G["max"] extends true ? `${G["column"]}_max` : never]: number | null;
} & {
  // Computed by Postgres (GENERATED … STORED): read only; shipped gauges only (see above).
  [G in GaugeOf<S> as G extends { addedBy: string } ? never : `${G["column"]}_avg`]: ColumnType<
    number | null,
    never,
    never
  >;
} & { [C in S["counters"][number]]: number | null };

export function rollupTable(spec: RollupSpec, tier: RollupTier): string {
  return `${spec.raw}_${tier}`;
}

/** The rollup columns in table order (without key and bucket), with their SQL types. */
export function rollupColumns(spec: RollupSpec): { name: string; type: string }[] {
  const columns: { name: string; type: string }[] = [{ name: "samples", type: "integer NOT NULL" }];
  for (const gauge of spec.gauges) {
    columns.push({ name: `${gauge.column}_samples`, type: "integer NOT NULL" });
    columns.push({ name: `${gauge.column}_sum`, type: gauge.type });
    if (gauge.max) columns.push({ name: `${gauge.column}_max`, type: gauge.type });
  }
  for (const counter of spec.counters) columns.push({ name: counter, type: "bigint" });
  return columns;
}

/** The spec as the tables first shipped: without the gauges later migrations added. */
function asShipped(spec: RollupSpec): RollupSpec {
  return { ...spec, gauges: spec.gauges.filter((gauge) => gauge.addedBy === undefined) };
}

/** DDL of the four hourly and daily rollup tables (migration 0003). */
export function rollupTableSql(): string[] {
  const statements: string[] = [];
  for (const spec of ROLLUP_SPECS.map(asShipped)) {
    for (const granularity of ["hourly", "daily"] as const) {
      const table = rollupTable(spec, granularity);
      const averages = spec.gauges.map(
        (gauge) =>
          `${gauge.column}_avg double precision GENERATED ALWAYS AS ` +
          `(${gauge.column}_sum::double precision / NULLIF(${gauge.column}_samples, 0)) STORED`,
      );
      const columns = rollupColumns(spec).map((column) => `${column.name} ${column.type}`);
      statements.push(
        `CREATE TABLE ${table} (
          ${spec.key} bigint NOT NULL,
          bucket timestamptz NOT NULL,
          ${[...columns, ...averages].join(",\n          ")},
          PRIMARY KEY (${spec.key}, bucket)
        )`,
      );
      // Top consumers over a period and retention both select by bucket across all keys.
      statements.push(`CREATE INDEX ${table}_bucket ON ${table} (bucket)`);
    }
  }
  return statements;
}

/**
 * DDL of the two minute tables (migration 0007). 1440 rows per container and day: they are
 * partitioned by UTC day of `bucket` like the raw tables, so retention drops whole days, and
 * they leave out the generated averages (readers divide the sums; 56 bytes a row saved).
 */
export function minuteTableSql(): string[] {
  return ROLLUP_SPECS.map(asShipped).map((spec) => {
    const columns = rollupColumns(spec).map((column) => `${column.name} ${column.type}`);
    return `CREATE TABLE ${rollupTable(spec, "minute")} (
          ${spec.key} bigint NOT NULL,
          bucket timestamptz NOT NULL,
          ${columns.join(",\n          ")},
          PRIMARY KEY (${spec.key}, bucket)
        ) PARTITION BY RANGE (bucket)`;
  });
}

/**
 * DDL that adds the gauges of `migration` to the minute, hourly and daily tables (a gauge added
 * after migration 0012 goes into the five-minute tables too: add "five_minute" here). Nullable
 * columns and a constant default change only the catalog (no rewrite, a brief lock); the
 * minute tables' day partitions take the columns from their parent. Buckets computed before
 * have 0 samples of the new gauge: no value, not a made-up zero.
 */
export function addedGaugeSql(migration: string): string[] {
  const statements: string[] = [];
  for (const spec of ROLLUP_SPECS) {
    const gauges = spec.gauges.filter((gauge) => gauge.addedBy === migration);
    if (gauges.length === 0) continue;
    const columns = gauges.flatMap((gauge) => [
      `ADD COLUMN ${gauge.column}_samples integer NOT NULL DEFAULT 0`,
      `ADD COLUMN ${gauge.column}_sum ${gauge.type}`,
      ...(gauge.max ? [`ADD COLUMN ${gauge.column}_max ${gauge.type}`] : []),
    ]);
    for (const granularity of ["minute", "hourly", "daily"] as const) {
      statements.push(`ALTER TABLE ${rollupTable(spec, granularity)} ${columns.join(", ")}`);
    }
  }
  return statements;
}

/**
 * The columns the api's series queries read from a minute or five-minute row (every gauge's
 * samples, sum and maximum; not the counters): those tables' primary keys INCLUDE them
 * (migrations 0011 and 0012), so a
 * chart reads one container's minutes from a few index leaf pages in key order (an index-only
 * scan) instead of one heap page per minute, the minute job writing every container's minute
 * together.
 */
export function chartCoveredColumns(spec: RollupSpec): string[] {
  return rollupColumns(spec)
    .map((column) => column.name)
    .filter((name) => !spec.counters.includes(name));
}

/**
 * DDL of the two five-minute tables (migration 0012): partitioned by UTC day like the minute
 * tables and kept as long (retention drops both tiers' days together), with every current gauge
 * and a primary key covering what charts read from the start (as migration 0011 made the minute
 * tables'). A 24 h chart in 5-minute points reads 288 of them instead of 1 440 minute rows.
 */
export function fiveMinuteTableSql(): string[] {
  return ROLLUP_SPECS.map((spec) => {
    const columns = rollupColumns(spec).map((column) => `${column.name} ${column.type}`);
    return `CREATE TABLE ${rollupTable(spec, "five_minute")} (
          ${spec.key} bigint NOT NULL,
          bucket timestamptz NOT NULL,
          ${columns.join(",\n          ")},
          PRIMARY KEY (${spec.key}, bucket) INCLUDE (${chartCoveredColumns(spec).join(", ")})
        ) PARTITION BY RANGE (bucket)`;
  });
}

/** DDL of migration 0011: the minute tables' primary key, covering what charts read. */
export function minuteCoveringKeySql(): string[] {
  return ROLLUP_SPECS.flatMap((spec) => {
    const table = rollupTable(spec, "minute");
    return [
      `ALTER TABLE ${table} DROP CONSTRAINT ${table}_pkey`,
      `ALTER TABLE ${table} ADD CONSTRAINT ${table}_pkey PRIMARY KEY (${spec.key}, bucket) INCLUDE (${chartCoveredColumns(spec).join(", ")})`,
    ];
  });
}
