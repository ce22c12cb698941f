// The statements that compute one rollup bucket, built from the rollup spec. Each is an
// idempotent upsert of every key's row for the bucket [start, end).
//
// Bytes moved (counters): every pair of consecutive samples of one container contributes the
// counter's increase, or the later value when the counter went backwards (a restart starts it
// from zero), to the bucket of the later sample. The pair that straddles the bucket's start
// counts in this bucket, so the previous sample before `start` is looked up per container.
// Summed over buckets this is exactly the counter's total growth; after a gap in sampling the
// bytes of the gap land in the first bucket after it.
import { type RawBuilder, sql } from "kysely";
import { type RollupGranularity, type RollupSpec, rollupColumns, rollupTable } from "./rollup-spec.ts";

const id = (name: string) => sql.raw(name);
const list = (names: readonly string[]) => sql.raw(names.join(", "));

function upsertTail(spec: RollupSpec): string {
  const names = rollupColumns(spec).map((column) => column.name);
  return `ON CONFLICT (${spec.key}, bucket) DO UPDATE SET ${names.map((name) => `${name} = excluded.${name}`).join(", ")}`;
}

function castSum(expression: string, type: string): string {
  return type === "bigint" ? `sum(${expression})::bigint` : `sum(${expression})`;
}

/** Aggregates over raw samples: hourly always, daily while the day's raw partition exists. */
export function rawRollupStatement(
  spec: RollupSpec,
  granularity: RollupGranularity,
  start: Date,
  end: Date,
): RawBuilder<unknown> {
  const target = rollupTable(spec, granularity);
  const columnNames = [spec.key, "bucket", ...rollupColumns(spec).map((column) => column.name)];
  const gaugeAggregates = spec.gauges.flatMap((gauge) => {
    const parts = [`count(${gauge.column})::integer`, castSum(gauge.column, gauge.type)];
    if (gauge.max) parts.push(`max(${gauge.column})`);
    return parts;
  });
  if (spec.counters.length === 0) {
    return sql`
      INSERT INTO ${id(target)} (${list(columnNames)})
      SELECT ${id(spec.key)}, ${start}::timestamptz, count(*)::integer, ${sql.raw(gaugeAggregates.join(", "))}
      FROM ${id(spec.raw)}
      WHERE ts >= ${start}::timestamptz AND ts < ${end}::timestamptz
      GROUP BY ${id(spec.key)}
      ${sql.raw(upsertTail(spec))}`;
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
  // (key, ts) for the deltas. Reading the hour twice (BRIN, cached) is cheaper than keeping it.
  return sql`
    WITH cur AS NOT MATERIALIZED (
      SELECT ${id(spec.key)}, ts, ${list(gauges)}, ${list(counters)}
      FROM ${id(spec.raw)}
      WHERE ts >= ${start}::timestamptz AND ts < ${end}::timestamptz
    ),
    agg AS (
      SELECT ${id(spec.key)}, count(*)::integer AS samples, ${sql.raw(namedAggregates.join(", "))}
      FROM cur
      GROUP BY ${id(spec.key)}
    ),
    prev AS (
      SELECT p.*
      FROM agg
      CROSS JOIN LATERAL (
        SELECT s.${id(spec.key)}, s.ts, ${sql.raw(counters.map((c) => `s.${c}`).join(", "))}, false AS in_bucket
        FROM ${id(spec.raw)} AS s
        WHERE s.${id(spec.key)} = agg.${id(spec.key)} AND s.ts < ${start}::timestamptz
        ORDER BY s.ts DESC
        LIMIT 1
      ) AS p
    ),
    seq AS (
      SELECT x.${id(spec.key)}, x.in_bucket, ${list(counters)}, ${sql.raw(lags.join(", "))}
      FROM (
        SELECT ${id(spec.key)}, ts, ${list(counters)}, true AS in_bucket FROM cur
        UNION ALL
        SELECT * FROM prev
      ) AS x
      WINDOW w AS (PARTITION BY ${id(spec.key)} ORDER BY ts)
    ),
    moved AS (
      SELECT ${id(spec.key)}, ${sql.raw(deltas.join(", "))}
      FROM seq
      WHERE in_bucket
      GROUP BY ${id(spec.key)}
    )
    INSERT INTO ${id(target)} (${list(columnNames)})
    SELECT agg.${id(spec.key)}, ${start}::timestamptz, ${sql.raw(aggregateNames.map((name) => `agg.${name}`).join(", "))},
      ${sql.raw(counters.map((c) => `moved.${c}`).join(", "))}
    FROM agg JOIN moved USING (${id(spec.key)})
    ${sql.raw(upsertTail(spec))}`;
}

/** Daily rows from hourly rows: sums and sample counts add up, maxima take the max. */
export function dailyFromHourlyStatement(spec: RollupSpec, start: Date, end: Date): RawBuilder<unknown> {
  const columns = rollupColumns(spec);
  const aggregates = columns.map((column) => {
    if (column.name.endsWith("_max")) return `max(${column.name})`;
    if (column.type.startsWith("integer")) return `sum(${column.name})::integer`;
    if (column.type === "bigint") return `sum(${column.name})::bigint`;
    return `sum(${column.name})`;
  });
  return sql`
    INSERT INTO ${id(rollupTable(spec, "daily"))} (${list([spec.key, "bucket", ...columns.map((c) => c.name)])})
    SELECT ${id(spec.key)}, ${start}::timestamptz, ${sql.raw(aggregates.join(", "))}
    FROM ${id(rollupTable(spec, "hourly"))}
    WHERE bucket >= ${start}::timestamptz AND bucket < ${end}::timestamptz
    GROUP BY ${id(spec.key)}
    ${sql.raw(upsertTail(spec))}`;
}
