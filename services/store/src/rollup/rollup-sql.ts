// The statements that compute rollup buckets, built from the rollup spec. Each is an
// idempotent upsert of every key's row for the buckets in [start, end).
//
// Bytes moved (counters): every pair of consecutive samples of one container contributes the
// counter's increase, or the later value when the counter went backwards (a restart starts it
// from zero), to the bucket of the later sample. The pair that straddles the bucket's start
// counts in this bucket, so the previous sample before `start` is looked up per container.
// Summed over buckets this is exactly the counter's total growth; after a gap in sampling the
// bytes of the gap land in the first bucket after it.
import { type RawBuilder, sql } from "kysely";
import {
  type RollupGranularity,
  type RollupSpec,
  type RollupTier,
  rollupColumns,
  rollupTable,
} from "./rollup-spec.ts";

const id = (name: string) => sql.raw(name);
const list = (names: readonly string[]) => sql.raw(names.join(", "));

/**
 * A recomputed bucket rewrites only the rows whose values changed (a late sample changes one
 * key's row, not the bucket's thousand): every rewritten row leaves a dead version, and a page
 * holding one is not marked all-visible by a vacuum that skips the index pass, so charts would
 * read the heap for it (the minute tables' index-only scans, migration 0011).
 */
function upsertTail(spec: RollupSpec, target: string): string {
  const names = rollupColumns(spec).map((column) => column.name);
  return (
    `ON CONFLICT (${spec.key}, bucket) DO UPDATE SET ${names.map((name) => `${name} = excluded.${name}`).join(", ")} ` +
    `WHERE (${names.map((name) => `${target}.${name}`).join(", ")}) IS DISTINCT FROM ` +
    `(${names.map((name) => `excluded.${name}`).join(", ")})`
  );
}

function castSum(expression: string, type: string): string {
  return type === "bigint" ? `sum(${expression})::bigint` : `sum(${expression})`;
}

const BUCKET_SECONDS: Record<RollupGranularity, number> = { minute: 60, hourly: 3600, daily: 86_400 };

/**
 * Aggregates over raw samples: every bucket of `granularity` in [start, end), one row per key
 * and bucket with samples (minutes: often a run of them at once; hours always, days while the
 * day's raw partition exists: one bucket).
 */
export function rawRollupStatement(
  spec: RollupSpec,
  granularity: RollupGranularity,
  start: Date,
  end: Date,
): RawBuilder<unknown> {
  const target = rollupTable(spec, granularity);
  const columnNames = [spec.key, "bucket", ...rollupColumns(spec).map((column) => column.name)];
  // Bucket starts are whole multiples of the width from the epoch (UTC midnights for days).
  const bucketOf = sql`date_bin(make_interval(secs => ${BUCKET_SECONDS[granularity]}), ts, 'epoch'::timestamptz)`;
  const gaugeAggregates = spec.gauges.flatMap((gauge) => {
    const parts = [`count(${gauge.column})::integer`, castSum(gauge.column, gauge.type)];
    if (gauge.max) parts.push(`max(${gauge.column})`);
    return parts;
  });
  if (spec.counters.length === 0) {
    return sql`
      INSERT INTO ${id(target)} (${list(columnNames)})
      SELECT ${id(spec.key)}, ${bucketOf}, count(*)::integer, ${sql.raw(gaugeAggregates.join(", "))}
      FROM ${id(spec.raw)}
      WHERE ts >= ${start}::timestamptz AND ts < ${end}::timestamptz
      GROUP BY 1, 2
      ${sql.raw(upsertTail(spec, target))}`;
  }
  const gauges = spec.gauges.map((gauge) => gauge.column);
  const counters = spec.counters;
  const namedAggregates = spec.gauges.flatMap((gauge) => {
    const parts = [
      `count(${gauge.column})::integer AS ${gauge.column}_samples`,
      `${castSum(gauge.column, gauge.type)} AS ${gauge.column}_sum`,
    ];
    if (gauge.max) parts.push(`max(${gauge.column}) AS ${gauge.column}_max`);
    return parts;
  });
  const aggregateNames = rollupColumns(spec)
    .map((column) => column.name)
    .filter((name) => !counters.includes(name));
  const lags = counters.map((counter) => `lag(${counter}) OVER w AS ${counter}_prev`);
  const deltas = counters.map(
    (counter) =>
      `sum(CASE WHEN ${counter} IS NULL OR ${counter}_prev IS NULL THEN NULL ` +
      `WHEN ${counter} >= ${counter}_prev THEN ${counter} - ${counter}_prev ELSE ${counter} END)::bigint AS ${counter}`,
  );
  // Averages and maxima need no order (hashed); only the narrow counter columns are sorted by
  // (key, ts) for the deltas. Reading the window twice (BRIN, cached) is cheaper than keeping it.
  // The sample before `start` (of keys with samples in the window) is looked up first within
  // the hour before it, where it nearly always is and only one or two day partitions are
  // searched, and further back only for the keys that had none there.
  const prevColumns = sql.raw(counters.map((c) => `s.${c}`).join(", "));
  const previousSample = (lowerBound: RawBuilder<unknown> | undefined) => sql`
        SELECT s.${id(spec.key)}, s.ts, ${prevColumns}
        FROM ${id(spec.raw)} AS s
        WHERE s.${id(spec.key)} = k.${id(spec.key)} AND s.ts < ${start}::timestamptz
          ${lowerBound === undefined ? sql`` : sql`AND s.ts >= ${lowerBound}`}
        ORDER BY s.ts DESC
        LIMIT 1`;
  return sql`
    WITH cur AS NOT MATERIALIZED (
      SELECT ${id(spec.key)}, ts, ${bucketOf} AS bucket, ${list(gauges)}, ${list(counters)}
      FROM ${id(spec.raw)}
      WHERE ts >= ${start}::timestamptz AND ts < ${end}::timestamptz
    ),
    agg AS (
      SELECT ${id(spec.key)}, bucket, count(*)::integer AS samples, ${sql.raw(namedAggregates.join(", "))}
      FROM cur
      GROUP BY ${id(spec.key)}, bucket
    ),
    keys AS (SELECT DISTINCT ${id(spec.key)} FROM agg),
    prev_near AS (
      SELECT p.* FROM keys AS k
      CROSS JOIN LATERAL (${previousSample(sql`${start}::timestamptz - interval '1 hour'`)}) AS p
    ),
    prev_far AS (
      SELECT p.* FROM keys AS k
      CROSS JOIN LATERAL (${previousSample(undefined)}) AS p
      WHERE NOT EXISTS (SELECT FROM prev_near AS n WHERE n.${id(spec.key)} = k.${id(spec.key)})
    ),
    seq AS (
      SELECT x.${id(spec.key)}, x.bucket, ${list(counters)}, ${sql.raw(lags.join(", "))}
      FROM (
        SELECT ${id(spec.key)}, ts, bucket, ${list(counters)} FROM cur
        UNION ALL
        SELECT ${id(spec.key)}, ts, NULL, ${list(counters)} FROM prev_near
        UNION ALL
        SELECT ${id(spec.key)}, ts, NULL, ${list(counters)} FROM prev_far
      ) AS x
      WINDOW w AS (PARTITION BY ${id(spec.key)} ORDER BY ts)
    ),
    moved AS (
      SELECT ${id(spec.key)}, bucket, ${sql.raw(deltas.join(", "))}
      FROM seq
      WHERE bucket IS NOT NULL
      GROUP BY ${id(spec.key)}, bucket
    )
    INSERT INTO ${id(target)} (${list(columnNames)})
    SELECT agg.${id(spec.key)}, agg.bucket, ${sql.raw(aggregateNames.map((name) => `agg.${name}`).join(", "))},
      ${sql.raw(counters.map((c) => `moved.${c}`).join(", "))}
    FROM agg JOIN moved USING (${id(spec.key)}, bucket)
    ${sql.raw(upsertTail(spec, target))}`;
}

/** The finer tier each tier built from rollup rows is built from, and its bucket in seconds. */
const BUILT_FROM = {
  daily: { source: "hourly", seconds: BUCKET_SECONDS.daily },
  five_minute: { source: "minute", seconds: 300 },
} as const satisfies Record<string, { source: RollupTier; seconds: number }>;

/**
 * Rows of a coarser tier from the rows of the finer one (daily from hourly, five-minute from
 * minute) for the target buckets in [start, end): sums, sample counts and bytes moved add up,
 * maxima take the max, so the result is what the raw samples would give.
 */
export function rollupFromFinerTierStatement(
  spec: RollupSpec,
  target: keyof typeof BUILT_FROM,
  start: Date,
  end: Date,
): RawBuilder<unknown> {
  const { source, seconds } = BUILT_FROM[target];
  const columns = rollupColumns(spec);
  const aggregates = columns.map((column) => {
    if (column.name.endsWith("_max")) return `max(${column.name})`;
    if (column.type.startsWith("integer")) return `sum(${column.name})::integer`;
    if (column.type === "bigint") return `sum(${column.name})::bigint`;
    return `sum(${column.name})`;
  });
  return sql`
    INSERT INTO ${id(rollupTable(spec, target))} (${list([spec.key, "bucket", ...columns.map((c) => c.name)])})
    SELECT ${id(spec.key)}, date_bin(make_interval(secs => ${seconds}), bucket, 'epoch'::timestamptz),
      ${sql.raw(aggregates.join(", "))}
    FROM ${id(rollupTable(spec, source))}
    WHERE bucket >= ${start}::timestamptz AND bucket < ${end}::timestamptz
    GROUP BY 1, 2
    ${sql.raw(upsertTail(spec, rollupTable(spec, target)))}`;
}
