// Turns one Kubernetes container reading, the same container's previous reading, its limits and
// its node's CPU count into the `statsMessage` of the bus contract, with the same fields and
// units as a Docker sample. Pure. CPU comes from the kubelet's own rate (`usageNanoCores`) when
// it gives one, else from this collector's two readings of the cumulative counter; rates come
// from this collector's two readings; every figure is null whenever it cannot be right.
import { type ContainerRef, SCHEMA_VERSION, type StatsMessage, toTimestamp } from "@crowsnest/shared";
import type { ContainerLimits } from "../sampling/container-limits.ts";
import type { KubernetesContainerReading, PodNetworkReading } from "./container-reading.ts";

export type KubernetesStatsSource = NonNullable<StatsMessage["source"]>;

export interface KubernetesSampleInput {
  host: string;
  container: ContainerRef;
  reading: KubernetesContainerReading;
  /** This container's previous reading; undefined on its first sample. */
  previous: KubernetesContainerReading | undefined;
  limits: ContainerLimits;
  /** The node's CPU count (its capacity); null when unknown. */
  onlineCpus: number | null;
  source: KubernetesStatsSource;
}

/**
 * The previous reading belongs to another run of the container: its start time changed, or its
 * CPU counter went backwards. Nothing computed across the two would be right.
 */
export function isRestart(
  previous: KubernetesContainerReading,
  reading: KubernetesContainerReading,
): boolean {
  if (
    previous.startedAtMs !== null &&
    reading.startedAtMs !== null &&
    previous.startedAtMs !== reading.startedAtMs
  ) {
    return true;
  }
  return (
    previous.usageCoreNanoSeconds !== null &&
    reading.usageCoreNanoSeconds !== null &&
    reading.usageCoreNanoSeconds < previous.usageCoreNanoSeconds
  );
}

export function buildKubernetesStatsSample(input: KubernetesSampleInput): StatsMessage {
  const { reading } = input;
  const previous =
    input.previous !== undefined && !isRestart(input.previous, reading) ? input.previous : undefined;
  const intervalMs =
    previous !== undefined && reading.readAtMs > previous.readAtMs
      ? reading.readAtMs - previous.readAtMs
      : null;
  const network = reading.network;
  const previousNetwork = previous?.network ?? null;
  return {
    v: SCHEMA_VERSION,
    host: input.host,
    runtime: "kubernetes",
    container: input.container,
    ts: toTimestamp(new Date(reading.readAtMs)),
    interval_ms: intervalMs,
    cpu_percent: cpuPercent(previous, reading),
    online_cpus: input.onlineCpus,
    cpu_limit_cores: input.limits.cpuLimitCores,
    mem_used: reading.workingSetBytes,
    mem_limit: input.limits.memLimitBytes,
    net_rx_bytes: network?.rxBytes ?? null,
    net_tx_bytes: network?.txBytes ?? null,
    net_rx_bytes_per_s: networkRate(previousNetwork, network, (n) => n.rxBytes),
    net_tx_bytes_per_s: networkRate(previousNetwork, network, (n) => n.txBytes),
    // Neither the Summary API nor metrics.k8s.io has block I/O.
    blk_read_bytes: null,
    blk_write_bytes: null,
    blk_read_bytes_per_s: null,
    blk_write_bytes_per_s: null,
    pids: reading.pids,
    source: input.source,
  };
}

/** 100 = one full core, like Docker's. */
function cpuPercent(
  previous: KubernetesContainerReading | undefined,
  reading: KubernetesContainerReading,
): number | null {
  // The kubelet's rate over its own housekeeping interval: 1e9 nanocores is one core.
  if (reading.usageNanoCores !== null) return reading.usageNanoCores / 1e7;
  if (previous === undefined) return null;
  if (previous.usageCoreNanoSeconds === null || reading.usageCoreNanoSeconds === null) return null;
  const elapsedNs = (reading.readAtMs - previous.readAtMs) * 1e6;
  const usedNs = reading.usageCoreNanoSeconds - previous.usageCoreNanoSeconds;
  if (elapsedNs <= 0 || usedNs < 0) return null;
  return (usedNs / elapsedNs) * 100;
}

/** Bytes per second between two network readings; null when either is unknown, no time passed, or the counter went back. */
function networkRate(
  before: PodNetworkReading | null,
  after: PodNetworkReading | null,
  pick: (reading: PodNetworkReading) => number | null,
): number | null {
  if (before === null || after === null) return null;
  const from = pick(before);
  const to = pick(after);
  if (from === null || to === null || to < from) return null;
  const elapsedMs = after.readAtMs - before.readAtMs;
  if (elapsedMs <= 0) return null;
  return ((to - from) * 1000) / elapsedMs;
}
