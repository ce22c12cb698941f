// One container's counters read at one moment, whichever way they were read: its cgroup files
// (cgroup-stats-reader.ts) or its runtime's stats API. The runtime adapters turn them into the
// runtime-neutral ContainerReading.
import type { ContainerReading } from "../core/container-reading.ts";

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

/**
 * The runtime-neutral reading of a container's counters; the runtime says which container it is,
 * over which clock its CPU is measured, its limits and whether this is a new run.
 */
export function readingFromCounters(
  counters: StatsReading,
  runtimeSide: Pick<ContainerReading, "container" | "cpu" | "limits" | "restarted">,
): ContainerReading {
  // Every field named, not `...runtimeSide`: a spread makes the object from the smaller one's
  // shape and adds the rest one by one (out of the object, in a second allocation), for every
  // sample of every tick.
  return {
    container: runtimeSide.container,
    restarted: runtimeSide.restarted,
    cpu: runtimeSide.cpu,
    limits: runtimeSide.limits,
    readAtMs: counters.readAtMs,
    // Neither the container list nor the files carry a start time; a restart shows in `restarted` or in the counters.
    startedAtMs: null,
    onlineCpus: counters.onlineCpus,
    memUsedBytes: counters.memUsedBytes,
    // Containers without a network of their own (none, host networking) have neither counter.
    network:
      counters.netRxBytes === null && counters.netTxBytes === null
        ? null
        : { readAtMs: counters.readAtMs, rxBytes: counters.netRxBytes, txBytes: counters.netTxBytes },
    blkReadBytes: counters.blkReadBytes,
    blkWriteBytes: counters.blkWriteBytes,
    pids: counters.pids,
  };
}
