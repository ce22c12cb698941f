// One container's resource sample: `<prefix>.v1.stats.<host>.<runtime>.<container>`.
import { z } from "zod";
import {
  byteCount,
  bytesPerSecond,
  containerRef,
  hostName,
  runtime,
  schemaVersion,
  timestamp,
} from "./common.ts";
import { STATS_SOURCES } from "./contract-values.ts";

/**
 * Where a Kubernetes sample's figures came from: the kubelet's Summary API (read from the kubelet
 * or through the API server's node proxy), or metrics.k8s.io when the summary is not reachable
 * (CPU and memory only).
 */
export const statsSource = z.enum(STATS_SOURCES);
export type StatsSource = z.infer<typeof statsSource>;

export const statsMessage = z.object({
  v: schemaVersion,
  host: hostName,
  runtime,
  container: containerRef,
  ts: timestamp.describe("When the runtime read the counters."),
  interval_ms: z
    .number()
    .int()
    .positive()
    .nullable()
    .describe("Milliseconds since this container's previous sample; null on the first one."),
  cpu_percent: z
    .number()
    .nonnegative()
    .nullable()
    .describe(
      "100 = one full core (the `docker stats` convention). Null on a first sample or after a counter reset.",
    ),
  online_cpus: z.number().int().positive().nullable(),
  cpu_limit_cores: z
    .number()
    .positive()
    .nullable()
    .describe(
      "The container's CPU limit in cores; null when unlimited, and only then: a publisher that does not know the limit (yet) does not publish the sample.",
    ),
  mem_used: byteCount.nullable().describe("Usage minus inactive file cache, in bytes."),
  mem_limit: byteCount
    .nullable()
    .describe(
      "The container's memory limit in bytes; null when unlimited, and only then (as `cpu_limit_cores`).",
    ),
  net_rx_bytes: byteCount.nullable(),
  net_tx_bytes: byteCount.nullable(),
  net_rx_bytes_per_s: bytesPerSecond.nullable(),
  net_tx_bytes_per_s: bytesPerSecond.nullable(),
  blk_read_bytes: byteCount.nullable(),
  blk_write_bytes: byteCount.nullable(),
  blk_read_bytes_per_s: bytesPerSecond.nullable(),
  blk_write_bytes_per_s: bytesPerSecond.nullable(),
  pids: z.number().int().nonnegative().nullable(),
  source: statsSource
    .optional()
    .describe("Kubernetes only (absent on Docker): which API the figures came from."),
});
export type StatsMessage = z.infer<typeof statsMessage>;
