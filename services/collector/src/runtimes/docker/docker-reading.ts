// Turns the counters of one Docker container (read from its cgroup files or its one-shot stats)
// and its inspected limits into the runtime-neutral reading the sampling core publishes.

import type { ContainerRef } from "@crowsnest/shared/agent";
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
    container: containerRef(container),
    restarted,
    // dockerd's CPU percentage is over the host's own CPU clock, read with the container's counter.
    cpu: { clock: "host", usageNs: reading.cpuTotalNs, hostNs: reading.systemCpuNs },
    limits,
  });
}

/**
 * Each listed container's reference on the bus, made once per container list instead of for
 * every sample: the list is kept across ticks while the containers do not change.
 */
const refs = new WeakMap<ContainerSummary, ContainerRef>();

function containerRef(container: ContainerSummary): ContainerRef {
  let ref = refs.get(container);
  if (ref === undefined) {
    ref = { external_id: container.id, name: container.name };
    refs.set(container, ref);
  }
  return ref;
}
