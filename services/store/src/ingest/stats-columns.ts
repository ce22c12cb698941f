// The container_stats columns a sample fills, shared by the decoding (both ways: stats-decoding.ts
// and its byte scanner, stats-scan.ts) and the stats writer.

/** The container_stats columns of a COPY line, in order. */
export const COPY_COLUMNS = [
  "container_id",
  "ts",
  "interval_ms",
  "cpu_percent",
  "online_cpus",
  "cpu_limit_cores",
  "mem_used",
  "mem_limit",
  "net_rx_bytes",
  "net_tx_bytes",
  "net_rx_bytes_per_s",
  "net_tx_bytes_per_s",
  "blk_read_bytes",
  "blk_write_bytes",
  "blk_read_bytes_per_s",
  "blk_write_bytes_per_s",
  "pids",
] as const;

export type SampleField = Exclude<(typeof COPY_COLUMNS)[number], "container_id">;
export const SAMPLE_FIELDS = COPY_COLUMNS.slice(1) as readonly SampleField[];

/** The numbers the alert engine reads of a sample, in this order (NaN for null). */
export const ALERT_FIELDS = [
  "cpu_percent",
  "online_cpus",
  "cpu_limit_cores",
  "mem_used",
  "mem_limit",
] as const satisfies readonly SampleField[];
