// Turns one container reading and the same container's previous reading into the `statsMessage`
// of the bus contract, whichever runtime the reading came from. Pure: every CPU percentage and
// rate comes from two readings of this collector (or from the runtime's own CPU rate), and is
// null whenever it cannot be right.
import { type Runtime, SCHEMA_VERSION, type StatsMessage, toTimestamp } from "@crowsnest/shared/agent";
import type { ContainerReading, NetworkReading } from "./container-reading.ts";

export interface StatsSampleInput {
  host: string;
  runtime: Runtime;
  reading: ContainerReading;
  /**
   * This container's previous reading; undefined on its first sample. One of another run of the
   * container (see isRestart) is not used.
   */
  previous: ContainerReading | undefined;
}

/**
 * The previous reading belongs to another run of the container: the runtime says so, its start
 * time changed, or its CPU counter went backwards (a new cgroup). Nothing computed across the two
 * would be right.
 */
export function isRestart(previous: ContainerReading, reading: ContainerReading): boolean {
  if (reading.restarted) return true;
  if (
    previous.startedAtMs !== null &&
    reading.startedAtMs !== null &&
    previous.startedAtMs !== reading.startedAtMs
  ) {
    return true;
  }
  return isCounterReset(previous, reading);
}

/** The container's cumulative CPU counter went backwards since the previous reading. */
export function isCounterReset(previous: ContainerReading, reading: ContainerReading): boolean {
  const before = previous.cpu.usageNs;
  const after = reading.cpu.usageNs;
  return before !== null && after !== null && after < before;
}

export function buildStatsSample(input: StatsSampleInput): StatsMessage {
  const { reading } = input;
  const previous =
    input.previous !== undefined && !isRestart(input.previous, reading) ? input.previous : undefined;
  const intervalMs =
    previous !== undefined && reading.readAtMs > previous.readAtMs
      ? reading.readAtMs - previous.readAtMs
      : null;
  const network = reading.network;
  const previousNetwork = previous?.network ?? null;
  const message: StatsMessage = {
    v: SCHEMA_VERSION,
    host: input.host,
    runtime: input.runtime,
    container: reading.container,
    ts: timestampAt(reading.readAtMs),
    interval_ms: intervalMs,
    cpu_percent: cpuPercent(previous, reading),
    online_cpus: reading.onlineCpus,
    cpu_limit_cores: reading.limits.cpuLimitCores,
    mem_used: reading.memUsedBytes,
    mem_limit: reading.limits.memLimitBytes,
    net_rx_bytes: network?.rxBytes ?? null,
    net_tx_bytes: network?.txBytes ?? null,
    net_rx_bytes_per_s: networkRate(previousNetwork, network, (n) => n.rxBytes),
    net_tx_bytes_per_s: networkRate(previousNetwork, network, (n) => n.txBytes),
    blk_read_bytes: reading.blkReadBytes,
    blk_write_bytes: reading.blkWriteBytes,
    blk_read_bytes_per_s: bytesPerSecond(previous?.blkReadBytes ?? null, reading.blkReadBytes, intervalMs),
    blk_write_bytes_per_s: bytesPerSecond(previous?.blkWriteBytes ?? null, reading.blkWriteBytes, intervalMs),
    pids: reading.pids,
  };
  if (reading.source !== undefined) message.source = reading.source;
  return message;
}

// A tick reads its containers within a few milliseconds, so most samples of a tick share their
// read time: its text is made once, not a Date and a toISOString() per sample.
let lastTimestampMs = Number.NaN;
let lastTimestamp = "";

function timestampAt(epochMs: number): string {
  if (epochMs !== lastTimestampMs) {
    lastTimestamp = toTimestamp(new Date(epochMs));
    lastTimestampMs = epochMs;
  }
  return lastTimestamp;
}

/** 100 = one full core. */
function cpuPercent(previous: ContainerReading | undefined, reading: ContainerReading): number | null {
  const { cpu } = reading;
  // The runtime's own rate over its own interval (the kubelet's): 1e9 nanocores is one core.
  if (cpu.clock === "wall" && cpu.nanoCores !== null) return cpu.nanoCores / 1e7;
  if (previous === undefined) return null;
  const before = previous.cpu;
  if (before.clock !== cpu.clock) return null;
  if (before.usageNs === null || cpu.usageNs === null) return null;
  const usedNs = cpu.usageNs - before.usageNs;
  if (cpu.clock === "host" && before.clock === "host") {
    // Docker's own formula (`docker stats`), over two readings of this collector instead of the
    // engine's precpu_stats, which one-shot stats leave empty: the container's share of all CPU
    // time the host spent in between, times the CPUs.
    if (reading.onlineCpus === null) return null;
    if (before.hostNs === null || cpu.hostNs === null) return null;
    const hostDeltaNs = cpu.hostNs - before.hostNs;
    if (usedNs < 0 || hostDeltaNs <= 0) return null;
    return (usedNs / hostDeltaNs) * reading.onlineCpus * 100;
  }
  const elapsedNs = (reading.readAtMs - previous.readAtMs) * 1e6;
  if (elapsedNs <= 0 || usedNs < 0) return null;
  return (usedNs / elapsedNs) * 100;
}

/** Bytes per second between two network readings; null when either is unknown, no time passed, or the counter went back. */
function networkRate(
  before: NetworkReading | null,
  after: NetworkReading | null,
  pick: (reading: NetworkReading) => number | null,
): number | null {
  if (before === null || after === null) return null;
  const elapsedMs = after.readAtMs - before.readAtMs;
  return elapsedMs > 0 ? bytesPerSecond(pick(before), pick(after), elapsedMs) : null;
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
