// Top consumers: containers ranked by the absolute value of one metric over a period, with the
// percent of their limit alongside (never ranked by it: a small limit must not push a light
// container above a heavy one). "now" is each live container's newest sample; periods are
// averaged over every sample in them, from hourly rollups for closed hours and raw samples for
// the rest, through sums and counts.
import { type Kysely, sql } from "kysely";
import type { ApiDatabase } from "../db/api-database.ts";
import { type LabelClause, labelClauseSql } from "../http/label-selector.ts";

export const TOP_METRICS = ["cpu", "memory", "network", "block_io"] as const;
export type TopMetric = (typeof TOP_METRICS)[number];
export const TOP_PERIODS = {
  now: 0,
  "1h": 1,
  "6h": 6,
  "24h": 24,
  "7d": 168,
  "30d": 720,
  "90d": 2160,
} as const;
export type TopPeriod = keyof typeof TOP_PERIODS;

const HOUR_MS = 3600_000;
/** A container whose newest sample is older than this is not running now. */
const NOW_FRESHNESS_SECONDS = 300;

export interface TopRow {
  rank: number;
  container_id: number;
  name: string;
  host: string;
  value: number;
  max: number | null;
  percent_of_limit: number | null;
  samples: number;
}

const UNIT: Record<TopMetric, string> = {
  cpu: "percent_of_core",
  memory: "bytes",
  network: "bytes_per_second",
  block_io: "bytes_per_second",
};
export const unitOf = (metric: TopMetric) => UNIT[metric];

/**
 * Which tables serve a period. Rankings over 24 h and more use whole hours from the hourly
 * rollups only (the open hour would weigh at most 1/24 and costs a scan of every container's
 * raw samples); 6 h adds the open hour from raw samples; 1 h is raw samples alone.
 */
export function topSegments(
  period: TopPeriod,
  nowMs: number,
): { source: "raw" | "hourly"; from: number; to: number }[] {
  const hours = TOP_PERIODS[period];
  const fromMs = nowMs - hours * HOUR_MS;
  const currentHour = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
  if (hours < 6) return [{ source: "raw", from: fromMs, to: nowMs }];
  const hourly = { source: "hourly" as const, from: Math.floor(fromMs / HOUR_MS) * HOUR_MS, to: currentHour };
  return hours < 24 ? [hourly, { source: "raw", from: currentHour, to: nowMs }] : [hourly];
}

/** Per container: sums, counts and maxima of every value the metrics need, over the period. */
function aggregates(period: TopPeriod, nowMs: number) {
  const parts = topSegments(period, nowMs).map((segment) => {
    const from = new Date(segment.from).toISOString();
    const to = new Date(segment.to).toISOString();
    return segment.source === "raw"
      ? sql`SELECT container_id, count(*) AS samples,
          count(cpu_percent) AS cpu_n, sum(cpu_percent) AS cpu_sum, max(cpu_percent) AS cpu_max,
          count(mem_used) AS mem_n, sum(mem_used) AS mem_sum, max(mem_used) AS mem_max,
          count(mem_limit) AS lim_n, sum(mem_limit) AS lim_sum,
          count(net_rx_bytes_per_s) AS rx_n, sum(net_rx_bytes_per_s) AS rx_sum,
          count(net_tx_bytes_per_s) AS tx_n, sum(net_tx_bytes_per_s) AS tx_sum,
          count(blk_read_bytes_per_s) AS rd_n, sum(blk_read_bytes_per_s) AS rd_sum,
          count(blk_write_bytes_per_s) AS wr_n, sum(blk_write_bytes_per_s) AS wr_sum
        FROM container_stats WHERE ts >= ${from}::timestamptz AND ts < ${to}::timestamptz GROUP BY container_id`
      : sql`SELECT container_id, sum(samples) AS samples,
          sum(cpu_percent_samples) AS cpu_n, sum(cpu_percent_sum) AS cpu_sum, max(cpu_percent_max) AS cpu_max,
          sum(mem_used_samples) AS mem_n, sum(mem_used_sum) AS mem_sum, max(mem_used_max) AS mem_max,
          sum(mem_limit_samples) AS lim_n, sum(mem_limit_sum) AS lim_sum,
          sum(net_rx_bytes_per_s_samples) AS rx_n, sum(net_rx_bytes_per_s_sum) AS rx_sum,
          sum(net_tx_bytes_per_s_samples) AS tx_n, sum(net_tx_bytes_per_s_sum) AS tx_sum,
          sum(blk_read_bytes_per_s_samples) AS rd_n, sum(blk_read_bytes_per_s_sum) AS rd_sum,
          sum(blk_write_bytes_per_s_samples) AS wr_n, sum(blk_write_bytes_per_s_sum) AS wr_sum
        FROM container_stats_hourly WHERE bucket >= ${from}::timestamptz AND bucket < ${to}::timestamptz
        GROUP BY container_id`;
  });
  return sql`SELECT container_id, sum(samples) AS samples,
      sum(cpu_sum) / nullif(sum(cpu_n), 0) AS cpu, max(cpu_max) AS cpu_max,
      sum(mem_sum) / nullif(sum(mem_n), 0) AS mem, max(mem_max) AS mem_max,
      sum(lim_sum) / nullif(sum(lim_n), 0) AS mem_limit,
      sum(rx_sum) / nullif(sum(rx_n), 0) + sum(tx_sum) / nullif(sum(tx_n), 0) AS network,
      sum(rd_sum) / nullif(sum(rd_n), 0) + sum(wr_sum) / nullif(sum(wr_n), 0) AS block_io
    FROM (${sql.join(parts, sql` UNION ALL `)}) AS segments GROUP BY container_id`;
}

/** The newest sample of every live container, in the same shape as the period aggregates. */
function latest() {
  return sql`SELECT c.id AS container_id, 1 AS samples,
      s.cpu_percent AS cpu, s.cpu_percent AS cpu_max, s.mem_used AS mem, s.mem_used AS mem_max, s.mem_limit,
      s.net_rx_bytes_per_s + s.net_tx_bytes_per_s AS network,
      s.blk_read_bytes_per_s + s.blk_write_bytes_per_s AS block_io
    FROM containers c
    CROSS JOIN LATERAL (
      SELECT * FROM container_stats WHERE container_id = c.id
        AND ts > now() - make_interval(secs => ${NOW_FRESHNESS_SECONDS})
      ORDER BY ts DESC LIMIT 1
    ) s
    WHERE c.gone_at IS NULL`;
}

const VALUE: Record<TopMetric, string> = {
  cpu: "cpu",
  memory: "mem",
  network: "network",
  block_io: "block_io",
};
const MAX: Record<TopMetric, string> = {
  cpu: "a.cpu_max",
  memory: "a.mem_max",
  network: "NULL",
  block_io: "NULL",
};

export interface TopOptions {
  metric: TopMetric;
  period: TopPeriod;
  limit: number;
  host?: string | undefined;
  labels: readonly LabelClause[];
  nowMs: number;
}

/** The ranking statement (also run by the benchmark's bare server). */
export function topSql(options: TopOptions) {
  const source = options.period === "now" ? latest() : aggregates(options.period, options.nowMs);
  const value = sql.raw(`a.${VALUE[options.metric]}`);
  const labelConditions = options.labels.map((clause) => labelClauseSql(clause, "c.labels"));
  const percent =
    options.metric === "memory"
      ? sql`CASE WHEN a.mem_limit > 0 THEN a.mem::float8 / a.mem_limit * 100 END`
      : options.metric === "cpu"
        ? sql`CASE WHEN lim.cpu_limit_cores > 0 THEN a.cpu::float8 / lim.cpu_limit_cores END`
        : sql`NULL`;
  return sql<{
    container_id: number;
    name: string;
    host: string;
    value: number;
    max: number | null;
    percent_of_limit: number | null;
    samples: number;
  }>`
    SELECT a.container_id, c.name, c.host, ${value} AS value, ${sql.raw(MAX[options.metric])} AS max,
      ${percent} AS percent_of_limit, a.samples
    FROM (${source}) AS a
    JOIN containers c ON c.id = a.container_id
    LEFT JOIN LATERAL (
      SELECT cpu_limit_cores FROM container_stats WHERE container_id = a.container_id ORDER BY ts DESC LIMIT 1
    ) lim ON ${options.metric === "cpu" ? sql`true` : sql`false`}
    WHERE ${value} IS NOT NULL
      ${options.host === undefined ? sql`` : sql`AND c.host = ${options.host}`}
      ${labelConditions.length === 0 ? sql`` : sql`AND ${sql.join(labelConditions, sql` AND `)}`}
    ORDER BY ${value} DESC, a.container_id
    LIMIT ${options.limit}`;
}

export async function queryTop(
  db: Kysely<ApiDatabase>,
  options: TopOptions,
): Promise<{ from: string; to: string; rows: TopRow[] }> {
  const result = await topSql(options).execute(db);
  // The window actually measured: whole hours for long periods.
  const segments = options.period === "now" ? [] : topSegments(options.period, options.nowMs);
  return {
    from: new Date(segments[0]?.from ?? options.nowMs).toISOString(),
    to: new Date(segments.at(-1)?.to ?? options.nowMs).toISOString(),
    rows: result.rows.map((row, index) => ({
      rank: index + 1,
      container_id: Number(row.container_id),
      name: row.name,
      host: row.host,
      value: Number(row.value),
      max: row.max === null ? null : Number(row.max),
      percent_of_limit: row.percent_of_limit === null ? null : Number(row.percent_of_limit),
      samples: Number(row.samples),
    })),
  };
}
