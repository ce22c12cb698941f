// Turns one stats reading, the same container's previous reading and its limits into the
// `statsMessage` of the bus contract. Pure: every CPU percentage and rate comes from two
// readings of this collector, and is null whenever it cannot be right.
import { type ContainerRef, SCHEMA_VERSION, type StatsMessage, toTimestamp } from "@crowsnest/shared";
import type { ContainerLimits } from "./container-limits.ts";
import type { StatsReading } from "./stats-reading.ts";

export interface StatsSampleInput {
  host: string;
  container: ContainerRef;
  reading: StatsReading;
  /** This container's previous reading; undefined on its first sample. */
  previous: StatsReading | undefined;
  limits: ContainerLimits;
}

/**
 * The container's CPU counter went backwards: it was restarted (a new cgroup) since the previous
 * reading, so nothing computed across the two would be right.
 */
export function isCounterReset(previous: StatsReading, reading: StatsReading): boolean {
  return (
    previous.cpuTotalNs !== null && reading.cpuTotalNs !== null && reading.cpuTotalNs < previous.cpuTotalNs
  );
}

export function buildStatsSample(input: StatsSampleInput): StatsMessage {
  const { reading, previous, limits } = input;
  const intervalMs =
    previous !== undefined && reading.readAtMs > previous.readAtMs
      ? reading.readAtMs - previous.readAtMs
      : null;
  const rate = (pick: (r: StatsReading) => number | null): number | null =>
    previous === undefined ? null : bytesPerSecond(pick(previous), pick(reading), intervalMs);
  return {
    v: SCHEMA_VERSION,
    host: input.host,
    runtime: "docker",
    container: input.container,
    ts: toTimestamp(new Date(reading.readAtMs)),
    interval_ms: intervalMs,
    cpu_percent: previous === undefined ? null : cpuPercent(previous, reading),
    online_cpus: reading.onlineCpus,
    cpu_limit_cores: limits.cpuLimitCores,
    mem_used: reading.memUsedBytes,
    mem_limit: limits.memLimitBytes,
    net_rx_bytes: reading.netRxBytes,
    net_tx_bytes: reading.netTxBytes,
    net_rx_bytes_per_s: rate((r) => r.netRxBytes),
    net_tx_bytes_per_s: rate((r) => r.netTxBytes),
    blk_read_bytes: reading.blkReadBytes,
    blk_write_bytes: reading.blkWriteBytes,
    blk_read_bytes_per_s: rate((r) => r.blkReadBytes),
    blk_write_bytes_per_s: rate((r) => r.blkWriteBytes),
    pids: reading.pids,
  };
}

/**
 * Docker's own formula (`docker stats`), over this collector's two readings instead of the
 * engine's precpu_stats, which one-shot stats leave empty: the container's share of all CPU time
 * the host spent in between, times the CPUs, so 100 is one full core.
 */
function cpuPercent(previous: StatsReading, reading: StatsReading): number | null {
  if (reading.onlineCpus === null) return null;
  if (previous.cpuTotalNs === null || reading.cpuTotalNs === null) return null;
  if (previous.systemCpuNs === null || reading.systemCpuNs === null) return null;
  const containerDeltaNs = reading.cpuTotalNs - previous.cpuTotalNs;
  const systemDeltaNs = reading.systemCpuNs - previous.systemCpuNs;
  if (containerDeltaNs < 0 || systemDeltaNs <= 0) return null;
  return (containerDeltaNs / systemDeltaNs) * reading.onlineCpus * 100;
}

/** Null when either counter is unknown, no time passed, or the counter went backwards (a restart). */
function bytesPerSecond(
  before: number | null,
  after: number | null,
  intervalMs: number | null,
): number | null {
  if (before === null || after === null || intervalMs === null) return null;
  if (after < before) return null;
  return ((after - before) * 1000) / intervalMs;
}
