// Time series of containers or hosts at a chosen step, from whichever stored tier reads the
// fewest rows: daily rollups for steps of whole days, hourly for whole hours, five-minute rollups
// for multiples of five minutes, minute rollups for whole minutes, raw samples otherwise. Each
// range then reads about as many stored rows per series as it draws points (the presets at most
// 1440). The recent edge comes from the next
// finer tier and at last from raw samples, because rollups cover closed buckets only and lag a
// run behind: charts reach the present. Segments are combined through sums and sample counts,
// so every point is an exact average over its samples (never an average of averages) and its
// max is the true max, whichever tiers served it. Every segment selects its stored rows in one
// shape (a raw sample is a bucket of one) and the statement aggregates them once.
import { type Kysely, type RawBuilder, sql } from "kysely";
import type { ApiDatabase } from "../db/api-database.ts";
import { GRID_ORIGIN_MS } from "./range-params.ts";

const MINUTE_MS = 60_000;
const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;
/**
 * How far behind now the minute tier is trusted: a minute is computed 20 s after it closed, by a
 * job running every minute (services/store/src/rollup/rollup-job.ts), so three minutes leave it
 * time; the raw samples of those minutes are a few dozen rows. (1-minute series of the last
 * hours read the store's marks of what it computed instead: minute-points.ts.)
 */
const MINUTE_LAG_MS = 3 * MINUTE_MS;

/** Every tier, coarse to fine. */
export const ALL_SOURCES = ["daily", "hourly", "five_minute", "minute", "raw"] as const;
export type SeriesSource = (typeof ALL_SOURCES)[number];
type RollupSource = Exclude<SeriesSource, "raw">;

export interface SeriesSpec {
  /** Raw table and its key column. */
  rawTable: "container_stats" | "host_stats";
  minuteTable: "container_stats_minute" | "host_stats_minute";
  fiveMinuteTable: "container_stats_five_minute" | "host_stats_five_minute";
  hourlyTable: "container_stats_hourly" | "host_stats_hourly";
  dailyTable: "container_stats_daily" | "host_stats_daily";
  /** The minute tier's series in rollup_buckets, whose marks say which minutes are computed. */
  minuteSeries: "container_minute" | "host_minute";
  key: "container_id" | "host_id";
  /** Values with an average and a maximum. */
  gauges: readonly string[];
  /** Values with an average only (limits, totals). */
  averagesOnly: readonly string[];
  /**
   * Values whose rollup sums are bigint (bytes, counts; services/store/src/rollup/rollup-spec.ts):
   * Postgres' sum() of them is numeric, so an average taken from one row divides as numeric too.
   */
  bigintSums: readonly string[];
}

export const CONTAINER_SERIES: SeriesSpec = {
  rawTable: "container_stats",
  minuteTable: "container_stats_minute",
  fiveMinuteTable: "container_stats_five_minute",
  hourlyTable: "container_stats_hourly",
  dailyTable: "container_stats_daily",
  minuteSeries: "container_minute",
  key: "container_id",
  gauges: [
    "cpu_percent",
    "mem_used",
    "net_rx_bytes_per_s",
    "net_tx_bytes_per_s",
    "blk_read_bytes_per_s",
    "blk_write_bytes_per_s",
    "pids",
  ],
  averagesOnly: ["mem_limit"],
  bigintSums: ["mem_used", "pids", "mem_limit"],
};

export const HOST_SERIES: SeriesSpec = {
  rawTable: "host_stats",
  minuteTable: "host_stats_minute",
  fiveMinuteTable: "host_stats_five_minute",
  hourlyTable: "host_stats_hourly",
  dailyTable: "host_stats_daily",
  minuteSeries: "host_minute",
  key: "host_id",
  gauges: ["cpu_percent", "mem_used", "load_1"],
  averagesOnly: ["mem_total"],
  bigintSums: ["mem_used", "mem_total"],
};

export interface SeriesPoint {
  ts: string;
  samples: number;
  [value: string]: string | number | { avg: number | null; max?: number | null };
}

export interface Segment {
  source: SeriesSource;
  from: number;
  to: number;
}

const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit;

const BUCKET_MS: Record<RollupSource, number> = {
  daily: DAY_MS,
  hourly: HOUR_MS,
  five_minute: 5 * MINUTE_MS,
  minute: MINUTE_MS,
};

function rollupTableOf(spec: SeriesSpec, source: RollupSource): string {
  return {
    daily: spec.dailyTable,
    hourly: spec.hourlyTable,
    five_minute: spec.fiveMinuteTable,
    minute: spec.minuteTable,
  }[source];
}

/**
 * Which table serves which part of [from, to): the coarsest tier whose buckets divide the step
 * for the older part, then finer ones up to `now`. The last closed day and hour are read from
 * the finer tier too, and the last three minutes from raw samples, in case the rollup job has
 * not computed them yet; five minutes are read where all their minutes are older than that
 * (the minute job writes them with their last minute). `sources` limits the tiers (the benchmark's raw-only baseline).
 */
export function planSegments(
  fromMs: number,
  toMs: number,
  stepMs: number,
  nowMs: number,
  sources: readonly SeriesSource[] = ALL_SOURCES,
): Segment[] {
  const minutesUntil = floorTo(nowMs, MINUTE_MS) - MINUTE_LAG_MS;
  const until: Record<SeriesSource, number> = {
    daily: floorTo(nowMs, DAY_MS) - DAY_MS,
    hourly: floorTo(nowMs, HOUR_MS) - HOUR_MS,
    five_minute: floorTo(minutesUntil, BUCKET_MS.five_minute),
    minute: minutesUntil,
    raw: Number.POSITIVE_INFINITY,
  };
  const usable = sources.filter((source) => source === "raw" || stepMs % BUCKET_MS[source] === 0);
  const segments: Segment[] = [];
  let start = fromMs;
  for (const source of usable) {
    const end = Math.min(toMs, until[source]);
    if (end > start) segments.push({ source, from: start, to: end });
    start = Math.max(start, end);
  }
  return segments;
}

function segmentSql(
  spec: SeriesSpec,
  segment: Segment,
  keys: readonly number[],
  stepMs: number,
  values: readonly string[],
): RawBuilder<unknown> {
  const gauges = spec.gauges.filter((value) => values.includes(value));
  const averagesOnly = spec.averagesOnly.filter((value) => values.includes(value));
  const step = sql`make_interval(secs => ${stepMs / 1000})`;
  const origin = sql`${new Date(GRID_ORIGIN_MS).toISOString()}::timestamptz`;
  const from = new Date(segment.from).toISOString();
  const to = new Date(segment.to).toISOString();
  const key = sql.ref(spec.key);
  // One key as `=`: the plan of the one-series history stays the simplest.
  const keyMatch =
    keys.length === 1 ? sql`${key} = ${keys[0]}` : sql`${key} = ANY(${idArrayText(keys)}::bigint[])`;
  // Rows as they are stored, in one shape for every tier (a raw sample is a bucket of one), and
  // aggregated once by the statement around them: one aggregation over every segment's rows
  // instead of one per segment and another to merge them (half the work for 500 sparklines).
  if (segment.source === "raw") {
    const columns = [
      "1 AS samples",
      ...gauges.map((g) => `(${g} IS NOT NULL)::integer AS ${g}_samples, ${g} AS ${g}_sum, ${g} AS ${g}_max`),
      ...averagesOnly.map((a) => `(${a} IS NOT NULL)::integer AS ${a}_samples, ${a} AS ${a}_sum`),
    ].join(", ");
    return sql`SELECT ${key} AS k, date_bin(${step}, ts, ${origin}) AS t, ${sql.raw(columns)}
      FROM ${sql.table(spec.rawTable)} WHERE ${keyMatch} AND ts >= ${from}::timestamptz AND ts < ${to}::timestamptz`;
  }
  const table = rollupTableOf(spec, segment.source);
  const columns = [
    "samples",
    ...gauges.map((g) => `${g}_samples, ${g}_sum, ${g}_max`),
    ...averagesOnly.map((a) => `${a}_samples, ${a}_sum`),
  ].join(", ");
  return sql`SELECT ${key} AS k, date_bin(${step}, bucket, ${origin}) AS t, ${sql.raw(columns)}
    FROM ${sql.table(table)} WHERE ${keyMatch} AND bucket >= ${from}::timestamptz AND bucket < ${to}::timestamptz`;
}

/**
 * Integer ids as the text of one array parameter (`{1,2,3}`): node-postgres quotes and escapes
 * each element of a JS array, which for 500 ids cost the api 0.2 ms per statement and Postgres
 * the parsing of 500 quoted elements (issue #16's sparklines).
 */
export function idArrayText(ids: readonly number[]): string {
  if (!ids.every(Number.isSafeInteger)) throw new RangeError("ids must be integers");
  return `{${ids.join(",")}}`;
}

export interface SeriesRange {
  fromMs: number;
  toMs: number;
  stepMs: number;
  nowMs: number;
}

export type SeriesRow = Record<string, number | string | Date | null> & { k: string; t: Date };

export interface SeriesOptions {
  /** The tiers to read; default all (the benchmark's baseline reads raw samples only). */
  sources?: readonly SeriesSource[];
  /** The values to compute; default all of the spec's. */
  values?: readonly string[];
  /** Significant digits of the values in the answer (seriesColumnsSql); default all a double has. */
  digits?: number | undefined;
  /**
   * Rows in any order, for a caller that places each row by its key and time itself (the
   * sparklines' raw minutes): without ORDER BY, Postgres hashes the (key, minute) groups instead
   * of sorting the rows, about a quarter of that statement's time (4 500 rows of 500 containers).
   */
  unordered?: boolean;
}

/**
 * The statement behind one or more series: one row per key and step with samples, ordered by
 * key and time (also run by the benchmark's bare server).
 */
export function seriesSql(
  spec: SeriesSpec,
  keys: readonly number[],
  range: SeriesRange,
  options: SeriesOptions = {},
) {
  const values = options.values ?? allValues(spec);
  const segments = planSegments(range.fromMs, range.toMs, range.stepMs, range.nowMs, options.sources);
  if (segments.length === 0 || keys.length === 0) return undefined;
  const gauges = spec.gauges.filter((g) => values.includes(g));
  const averagesOnly = spec.averagesOnly.filter((a) => values.includes(a));
  const aggregates = [
    "sum(samples)::bigint AS samples",
    ...gauges.map(
      (g) => `sum(${g}_sum) / nullif(sum(${g}_samples), 0) AS ${g}_avg, max(${g}_max) AS ${g}_max`,
    ),
    ...averagesOnly.map((a) => `sum(${a}_sum) / nullif(sum(${a}_samples), 0) AS ${a}_avg`),
  ].join(", ");
  const sources = [...new Set(segments.map((segment) => segment.source))];
  const onGrid = (ms: number) => (ms - GRID_ORIGIN_MS) % range.stepMs === 0;
  // Segments that meet off the step grid share a step, so their rows are aggregated together;
  // where two meet on the grid, no step straddles them and each side's points are final on its
  // own. The 24 h chart meets that way between its five-minute rows and the minutes after them
  // (the minute tier's edge is on the grid only one minute in five): those 288 rows are then
  // points as they are, and only the newest few minutes' rows are aggregated.
  const groups: Segment[][] = [];
  for (const segment of segments) {
    const last = groups.at(-1);
    if (last !== undefined && !onGrid(segment.from)) last.push(segment);
    else groups.push([segment]);
  }
  const union = (group: readonly Segment[]) =>
    sql.join(
      group.map((segment) => segmentSql(spec, segment, keys, range.stepMs, values)),
      sql` UNION ALL `,
    );
  const order = options.unordered ? sql`` : sql` ORDER BY k, t`;
  const [only] = groups;
  if (groups.length === 1 && only !== undefined && only.length > 1) {
    return {
      query: sql<SeriesRow>`
      SELECT k, t, ${sql.raw(aggregates)}
      FROM (${union(only)}) AS segments
      GROUP BY k, t${order}`,
      sources,
    };
  }
  // A rollup segment whose bucket is the step (1-minute points from minute rows: sparklines,
  // 6 h charts; 5-minute points from five-minute rows: 24 h charts) holds its points already, one
  // row each, and is not aggregated at all. For 500 sparklines that leaves out hashing 30 000
  // groups, about a quarter of the statement's time; for the 24 h chart, about a quarter of
  // Postgres' time before the points are printed.
  const ownPoints = (group: readonly Segment[]) => {
    const [segment] = group;
    return group.length === 1 &&
      segment !== undefined &&
      segment.source !== "raw" &&
      BUCKET_MS[segment.source] === range.stepMs
      ? segment
      : undefined;
  };
  const points = sql.join(
    groups.map((group) => {
      const segment = ownPoints(group);
      return segment
        ? bucketPointsSql(spec, segment, keys, gauges, averagesOnly)
        : sql`SELECT k, t, ${sql.raw(aggregates)} FROM (${union(group)}) AS segment GROUP BY k, t`;
    }),
    sql` UNION ALL `,
  );
  return {
    query: sql<SeriesRow>`SELECT * FROM (${points}) AS points${order}`,
    sources,
  };
}

/**
 * The points of a rollup segment whose buckets are the steps: each row is one point, its values
 * computed as the aggregation would compute them from that single row (the same types, so the
 * same numbers: a bigint sum divided as numeric, as sum() makes it).
 */
export function bucketPointsSql(
  spec: SeriesSpec,
  segment: Segment,
  keys: readonly number[],
  gauges: readonly string[],
  averagesOnly: readonly string[],
): RawBuilder<unknown> {
  const table = rollupTableOf(spec, segment.source as RollupSource);
  const average = (value: string) =>
    `${value}_sum${spec.bigintSums.includes(value) ? "::numeric" : ""} / nullif(${value}_samples::bigint, 0) AS ${value}_avg`;
  const columns = [
    "samples::bigint AS samples",
    ...gauges.map((g) => `${average(g)}, ${g}_max`),
    ...averagesOnly.map(average),
  ].join(", ");
  const key = sql.ref(spec.key);
  const keyMatch =
    keys.length === 1 ? sql`${key} = ${keys[0]}` : sql`${key} = ANY(${idArrayText(keys)}::bigint[])`;
  return sql`SELECT ${key} AS k, bucket AS t, ${sql.raw(columns)}
    FROM ${sql.table(table)} WHERE ${keyMatch}
      AND bucket >= ${new Date(segment.from).toISOString()}::timestamptz
      AND bucket < ${new Date(segment.to).toISOString()}::timestamptz`;
}

/** A row of seriesSql as a point of the answer. */
export function toPoint(
  spec: SeriesSpec,
  row: SeriesRow,
  values: readonly string[] = allValues(spec),
): SeriesPoint {
  const point: SeriesPoint = { ts: row.t.toISOString(), samples: Number(row.samples) };
  for (const value of values) {
    point[value] = spec.gauges.includes(value)
      ? { avg: toNumber(row[`${value}_avg`]), max: toNumber(row[`${value}_max`]) }
      : { avg: toNumber(row[`${value}_avg`]) };
  }
  return point;
}

export function allValues(spec: SeriesSpec): string[] {
  return [...spec.gauges, ...spec.averagesOnly];
}

/** Points of one container or host, one per step with samples, oldest first. */
export async function querySeries(
  db: Kysely<ApiDatabase>,
  spec: SeriesSpec,
  keyValue: number,
  range: SeriesRange,
): Promise<{ points: SeriesPoint[]; sources: SeriesSource[] }> {
  const statement = seriesSql(spec, [keyValue], range);
  if (!statement) return { points: [], sources: [] };
  const result = await statement.query.execute(db);
  return { points: result.rows.map((row) => toPoint(spec, row)), sources: statement.sources };
}

/**
 * A value as JSON number text, the number JSON.stringify writes: a float8 prints as the shortest
 * text that reads back as the same double, JavaScript's rule too (only the exponent form differs,
 * for values under 1e-4 or from 1e15 on: 5e-05 where JavaScript writes 0.00005, the same double),
 * and what JSON has no number for (an average whose sum overflowed to Infinity) is null, as
 * JSON.stringify makes it.
 */
export function jsonNumberSql(column: string): string {
  return `coalesce(nullif(nullif(nullif(${column}::float8, 'Infinity'), '-Infinity'), 'NaN')::text, 'null')`;
}

/**
 * Points per row of seriesPointsJsonSql: about 48 KB of text for a container's 8 values (82 KB
 * with every number at its longest), so no row becomes a string in V8's large-object space.
 * Strings over 128 KB get pages of their own, mapped and unmapped each time: one 1 h history of
 * 360 raw points (135 KB in one row) cost the api 2.9–3.0 ms of CPU where 330 points (124 KB)
 * cost 1.0 ms.
 */
const POINTS_PER_ROW = 128;

/**
 * seriesSql's points of one series as the JSON text of the answer's `points` array, built by
 * Postgres: the text JSON.stringify makes of toPoint's points (`ts` in toISOString's form, every
 * value as jsonNumberSql prints it), which the api sends on without parsing a row or serializing
 * an object. On the 24 h chart (289 points of 8 values) that was most of the api's CPU per request:
 * parsing 5 000 fields, building 2 600 objects and stringifying 107 KB. Concatenated rather than
 * json_build_object, which puts spaces around every colon and comma. One row per POINTS_PER_ROW
 * points, in order, each the points' texts joined by commas; none without points
 * (pointsJsonPieces makes the array of them). The points are numbered in the order they arrive,
 * seriesSql's ORDER BY k, t (as seriesColumnsSql relies on it): numbering them OVER (ORDER BY t)
 * sorted them again, 0.2 ms of a 1 h chart's 2.6 ms in Postgres.
 */
export function seriesPointsJsonSql(spec: SeriesSpec, key: number, range: SeriesRange) {
  const statement = seriesSql(spec, [key], range);
  if (!statement) return undefined;
  const number = jsonNumberSql;
  const fields = allValues(spec).map((value) =>
    spec.gauges.includes(value)
      ? `',"${value}":{"avg":' || ${number(`${value}_avg`)} || ',"max":' || ${number(`${value}_max`)} || '}'`
      : `',"${value}":{"avg":' || ${number(`${value}_avg`)} || '}'`,
  );
  return {
    query: sql<{ part: string; points: string }>`
      SELECT part, string_agg(point, ',' ORDER BY t) AS points
      FROM (
        SELECT t, (row_number() OVER () - 1) / ${sql.lit(POINTS_PER_ROW)} AS part,
          '{"ts":"' || to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '","samples":' || samples
          || ${sql.raw(fields.join(" || "))} || '}' AS point
        FROM (${statement.query}) AS points
      ) AS numbered
      GROUP BY part ORDER BY part`,
    sources: statement.sources,
  };
}

/**
 * The JSON array of seriesPointsJsonSql's rows (in `part` order), as pieces to write one after
 * another (http/byte-answer.ts), never joined into one string.
 */
export function pointsJsonPieces(rows: readonly { points: string }[]): string[] {
  return ["[", ...rows.flatMap((row, n) => (n === 0 ? [row.points] : [",", row.points])), "]"];
}

export function toNumber(value: number | string | Date | null | undefined): number | null {
  if (value === null || value === undefined || value instanceof Date) return null;
  return Number(value);
}

/**
 * A value as an element of a float8 array whose text becomes JSON (seriesColumnsSql): the double
 * jsonNumberSql prints, and NULL for what JSON has no number for.
 */
export const finiteSql = (column: string) =>
  `nullif(nullif(nullif(${column}::float8, 'Infinity'), '-Infinity'), 'NaN')`;

/** The most significant digits an answer may be rounded to: a float8 cast to numeric has 15. */
export const MAX_DIGITS = 15;

/**
 * A float8 value (or NULL) rounded to `digits` significant digits, as numeric without trailing
 * zeros (`12.35`, `0.00005`, `104900000`), for answers that ask for fewer digits than a double
 * prints (sparklines: a 60-pixel line shows three). NULL stays NULL, 0 stays 0.
 */
export function significantSql(value: string, digits: number): string {
  if (!Number.isInteger(digits) || digits < 1 || digits > MAX_DIGITS)
    throw new RangeError(`digits must be an integer from 1 to ${MAX_DIGITS}`);
  return `CASE WHEN ${value} = 0 THEN 0::numeric ELSE trim_scale(round((${value})::numeric, ${digits - 1} - floor(log(abs(${value})))::integer)) END`;
}

/** A value column of a series answer: its finite double, rounded if `digits` is given. */
export const answerValueSql = (column: string, digits: number | undefined) =>
  digits === undefined ? finiteSql(column) : significantSql(finiteSql(column), digits);

/**
 * One series of seriesColumnsSql, one element per step with samples, oldest first, each a
 * Postgres array's text (`{1.5,NULL}`): `steps` the steps' indexes from `fromMs`, `samples`, and
 * every column. arrayJson makes JSON of them.
 */
export type SeriesColumnsRow = { k: string; steps: string; samples: string } & Record<string, string>;

/**
 * seriesSql with one row per key, each value a column: the array of its points as Postgres prints
 * it (`array_agg`; its elements are printed as jsonNumberSql prints them). Where a series has a
 * point at every step, in order, the api sends those texts on as the answer's columns without
 * reading a number (series-routes.ts): 500 sparklines are 1 MB of numbers, and parsing and
 * writing them again was about 40 % of the request. Building arrays instead of concatenating a
 * text per point halves Postgres' part (a text per point made 30 000 short strings and sorted
 * every series' points apart, one sort per aggregate); turning `{…}` into `[…]` is left to the
 * api, where it is a slice (Postgres' translate() and replace() go character by character).
 *
 * The points enter the aggregates in seriesSql's order (by key and time): its ORDER BY keeps the
 * subquery from being merged into this statement, and an aggregate takes its rows in the order
 * they arrive. `steps` lets the api check it rather than trust it.
 */
export function seriesColumnsSql(
  spec: SeriesSpec,
  keys: readonly number[],
  range: SeriesRange,
  options: SeriesOptions = {},
) {
  const statement = seriesSql(spec, keys, range, options);
  if (!statement) return undefined;
  const values = options.values ?? allValues(spec);
  const columns = values.flatMap((value) =>
    spec.gauges.includes(value) ? [`${value}_avg`, `${value}_max`] : [`${value}_avg`],
  );
  const from = new Date(range.fromMs).toISOString();
  const arrays = columns
    .map((column) => `array_agg(${answerValueSql(column, options.digits)})::text AS ${column}`)
    .join(", ");
  return {
    query: sql<SeriesColumnsRow>`
      SELECT k, array_agg(step)::text AS steps, array_agg(samples)::text AS samples,
        ${sql.raw(arrays)}
      FROM (
        SELECT *, round(date_part('epoch', t - ${from}::timestamptz) * 1000 / ${range.stepMs})::integer AS step
        FROM (${statement.query}) AS points
      ) AS points
      GROUP BY k`,
    columns,
    sources: statement.sources,
  };
}

/**
 * A number array's text as Postgres prints it (`{1.5,NULL,2}`; numbers need no quotes) as JSON
 * (`[1.5,null,2]`).
 */
export function arrayJson(text: string): string {
  const elements = text.slice(1, -1);
  return `[${elements.includes("NULL") ? elements.replaceAll("NULL", "null") : elements}]`;
}
