// Turns the counters of one Docker container (read from its cgroup files or its one-shot stats)
// and its inspected limits into the runtime-neutral reading the sampling core publishes.

import { readingFromCounters, type StatsReading } from "../../cgroup/stats-counters.ts";
import type { ContainerLimits } from "../../core/container-limits.ts";
import type { ContainerReading } from "../../core/container-reading.ts";
import type { ContainerSummary } from "./container-summary.ts";

export function containerReading(
  container: ContainerSummary,
  reading: StatsReading,
  limits: ContainerLimits,
  /** Inspect found another StartedAt than the cached one: a new run, whatever the counters say. */
  restarted: boolean,
): ContainerReading {
  return readingFromCounters(reading, {
    container: { external_id: container.id, name: container.name },
    restarted,
    // dockerd's CPU percentage is over the host's own CPU clock, read with the container's counter.
    cpu: { clock: "host", usageNs: reading.cpuTotalNs, hostNs: reading.systemCpuNs },
    limits,
  });
}
