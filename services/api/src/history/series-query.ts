// Time series of one container or host at a chosen step, from whichever tables hold it:
// daily rollups for whole days, hourly rollups for whole hours, raw samples for the rest. The
// recent edge always comes from raw samples, because rollups cover closed buckets only and may
// lag a run behind. Segments are combined through sums and sample counts, so every point is an
// exact average over its samples (never an average of averages) and its max is the true max.
import { type Kysely, type RawBuilder, sql } from "kysely";
import type { ApiDatabase } from "../db/api-database.ts";
import { GRID_ORIGIN_MS } from "./range-params.ts";

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

export interface SeriesSpec {
  /** Raw table and its key column. */
  rawTable: "container_stats" | "host_stats";
  hourlyTable: "container_stats_hourly" | "host_stats_hourly";
  dailyTable: "container_stats_daily" | "host_stats_daily";
  key: "container_id" | "host_id";
  /** Values with an average and a maximum. */
  gauges: readonly string[];
  /** Values with an average only (limits, totals). */
  averagesOnly: readonly string[];
}

export const CONTAINER_SERIES: SeriesSpec = {
  rawTable: "container_stats",
  hourlyTable: "container_stats_hourly",
  dailyTable: "container_stats_daily",
  key: "container_id",
  gauges: [
    "cpu_percent",
    "mem_used",
    "net_rx_bytes_per_s",
    "net_tx_bytes_per_s",
    "blk_read_bytes_per_s",
    "blk_write_bytes_per_s",
  ],
  averagesOnly: ["mem_limit"],
};

export const HOST_SERIES: SeriesSpec = {
  rawTable: "host_stats",
  hourlyTable: "host_stats_hourly",
  dailyTable: "host_stats_daily",
  key: "host_id",
  gauges: ["cpu_percent", "mem_used", "load_1"],
  averagesOnly: ["mem_total"],
};

export interface SeriesPoint {
  ts: string;
  samples: number;
  [value: string]: string | number | { avg: number | null; max?: number | null };
}

interface Segment {
  source: "raw" | "hourly" | "daily";
  from: number;
  to: number;
}

const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit;

/**
 * Which table serves which part of [from, to): coarse rollups for the older part when the step
 * allows them, then finer sources up to `now`. The last closed hour and day are read from the
 * finer source too, in case the rollup job has not computed them yet.
 */
export function planSegments(fromMs: number, toMs: number, stepMs: number, nowMs: number): Segment[] {
  const hourEdge = floorTo(nowMs, HOUR_MS) - HOUR_MS;
  const dayEdge = floorTo(nowMs, DAY_MS) - DAY_MS;
  const edges: { source: Segment["source"]; until: number }[] =
    stepMs >= DAY_MS && stepMs % DAY_MS === 0
      ? [
          { source: "daily", until: dayEdge },
          { source: "hourly", until: hourEdge },
          { source: "raw", until: Number.POSITIVE_INFINITY },
        ]
      : stepMs >= HOUR_MS && stepMs % HOUR_MS === 0
        ? [
            { source: "hourly", until: hourEdge },
            { source: "raw", until: Number.POSITIVE_INFINITY },
          ]
        : [{ source: "raw", until: Number.POSITIVE_INFINITY }];
  const segments: Segment[] = [];
  let start = fromMs;
  for (const edge of edges) {
    const end = Math.min(toMs, edge.until);
    if (end > start) segments.push({ source: edge.source, from: start, to: end });
    start = Math.max(start, end);
  }
  return segments;
}

function segmentSql(
  spec: SeriesSpec,
  segment: Segment,
  keyValue: number,
  stepMs: number,
): RawBuilder<unknown> {
  const step = sql`make_interval(secs => ${stepMs / 1000})`;
  const origin = sql`${new Date(GRID_ORIGIN_MS).toISOString()}::timestamptz`;
  const from = new Date(segment.from).toISOString();
  const to = new Date(segment.to).toISOString();
  const key = sql.ref(spec.key);
  if (segment.source === "raw") {
    const columns = [
      ...spec.gauges.map((g) => `count(${g}) AS ${g}_samples, sum(${g}) AS ${g}_sum, max(${g}) AS ${g}_max`),
      ...spec.averagesOnly.map((a) => `count(${a}) AS ${a}_samples, sum(${a}) AS ${a}_sum`),
    ].join(", ");
    return sql`SELECT date_bin(${step}, ts, ${origin}) AS t, count(*) AS samples, ${sql.raw(columns)}
      FROM ${sql.table(spec.rawTable)} WHERE ${key} = ${keyValue} AND ts >= ${from}::timestamptz AND ts < ${to}::timestamptz
      GROUP BY 1`;
  }
  const table = segment.source === "hourly" ? spec.hourlyTable : spec.dailyTable;
  const columns = [
    ...spec.gauges.map(
      (g) => `sum(${g}_samples) AS ${g}_samples, sum(${g}_sum) AS ${g}_sum, max(${g}_max) AS ${g}_max`,
    ),
    ...spec.averagesOnly.map((a) => `sum(${a}_samples) AS ${a}_samples, sum(${a}_sum) AS ${a}_sum`),
  ].join(", ");
  return sql`SELECT date_bin(${step}, bucket, ${origin}) AS t, sum(samples) AS samples, ${sql.raw(columns)}
    FROM ${sql.table(table)} WHERE ${key} = ${keyValue} AND bucket >= ${from}::timestamptz AND bucket < ${to}::timestamptz
    GROUP BY 1`;
}

export interface SeriesRange {
  fromMs: number;
  toMs: number;
  stepMs: number;
  nowMs: number;
}

/** The statement behind a series: one row per step with samples (also run by the benchmark's bare server). */
export function seriesSql(spec: SeriesSpec, keyValue: number, range: SeriesRange) {
  const segments = planSegments(range.fromMs, range.toMs, range.stepMs, range.nowMs);
  if (segments.length === 0) return undefined;
  const union = sql.join(
    segments.map((segment) => segmentSql(spec, segment, keyValue, range.stepMs)),
    sql` UNION ALL `,
  );
  const outer = [
    ...spec.gauges.map(
      (g) => `sum(${g}_sum) / nullif(sum(${g}_samples), 0) AS ${g}_avg, max(${g}_max) AS ${g}_max`,
    ),
    ...spec.averagesOnly.map((a) => `sum(${a}_sum) / nullif(sum(${a}_samples), 0) AS ${a}_avg`),
  ].join(", ");
  return {
    query: sql<Record<string, number | Date | null>>`
      SELECT t, sum(samples)::bigint AS samples, ${sql.raw(outer)}
      FROM (${union}) AS segments
      GROUP BY t ORDER BY t`,
    sources: [...new Set(segments.map((segment) => segment.source))],
  };
}

/** Points of one container or host, one per step with samples, oldest first. */
export async function querySeries(
  db: Kysely<ApiDatabase>,
  spec: SeriesSpec,
  keyValue: number,
  range: SeriesRange,
): Promise<{ points: SeriesPoint[]; sources: Segment["source"][] }> {
  const statement = seriesSql(spec, keyValue, range);
  if (!statement) return { points: [], sources: [] };
  const result = await statement.query.execute(db);
  const points = result.rows.map((row) => {
    const point: SeriesPoint = { ts: (row.t as Date).toISOString(), samples: Number(row.samples) };
    for (const gauge of spec.gauges) {
      point[gauge] = { avg: toNumber(row[`${gauge}_avg`]), max: toNumber(row[`${gauge}_max`]) };
    }
    for (const average of spec.averagesOnly) point[average] = { avg: toNumber(row[`${average}_avg`]) };
    return point;
  });
  return { points, sources: statement.sources };
}

function toNumber(value: number | Date | null | undefined): number | null {
  if (value === null || value === undefined || value instanceof Date) return null;
  return Number(value);
}
