// One container's counters read at one moment, whichever way they were read: its cgroup files
// (cgroup-stats-reader.ts) or its runtime's stats API. The runtime adapters turn them into the
// runtime-neutral ContainerReading.

/** A container's counters, or null where they could not be read. */
export interface StatsReading {
  /** When the counters were read: epoch milliseconds, truncated. */
  readAtMs: number;
  /** CPU time used by the container since it started, in nanoseconds. */
  cpuTotalNs: number | null;
  /** CPU time of the whole host since boot, in nanoseconds (Docker's clock for CPU percentages). */
  systemCpuNs: number | null;
  onlineCpus: number | null;
  /** Usage minus inactive file cache, floored at 0. */
  memUsedBytes: number | null;
  netRxBytes: number | null;
  netTxBytes: number | null;
  blkReadBytes: number | null;
  blkWriteBytes: number | null;
  pids: number | null;
}
