// Turns one Kubernetes container reading (from the kubelet's Summary API or metrics.k8s.io), its
// limits from the pod spec and its node's CPU count into the runtime-neutral reading the sampling
// core publishes, with the same fields and units as a Docker sample. CPU comes from two readings
// of the cumulative counter over their read times, or from the kubelet's own rate
// (`usageNanoCores`) where there is no counter; neither API has block I/O.
import type { ContainerRef } from "@crowsnest/shared/agent";
import type { ContainerLimits } from "../../core/container-limits.ts";
import type { ContainerReading, StatsSource } from "../../core/container-reading.ts";
import type { KubernetesContainerReading } from "./container-reading.ts";

export interface KubernetesReadingInput {
  container: ContainerRef;
  /** The node the pod runs on. */
  node: string;
  reading: KubernetesContainerReading;
  limits: ContainerLimits;
  /** The node's CPU count (its capacity); null when unknown. */
  onlineCpus: number | null;
  source: StatsSource;
}

export function containerReading(input: KubernetesReadingInput): ContainerReading {
  const { reading } = input;
  return {
    container: input.container,
    node: input.node,
    source: input.source,
    readAtMs: reading.readAtMs,
    startedAtMs: reading.startedAtMs,
    restarted: false,
    // From the counter's growth between this collector's own readings. The kubelet's
    // usageNanoCores is over the window since whichever client asked it last (its CRI stats
    // provider keeps one previous value for all callers), so a short window overshoots a CPU
    // quota enforced per 100 ms period: used only where no counter is given (metrics.k8s.io).
    cpu: {
      clock: "wall",
      usageNs: reading.usageCoreNanoSeconds,
      nanoCores: reading.usageCoreNanoSeconds === null ? reading.usageNanoCores : null,
    },
    onlineCpus: input.onlineCpus,
    memUsedBytes: reading.workingSetBytes,
    limits: input.limits,
    network: reading.network,
    // Neither the Summary API nor metrics.k8s.io has block I/O.
    blkReadBytes: null,
    blkWriteBytes: null,
    pids: reading.pids,
  };
}
