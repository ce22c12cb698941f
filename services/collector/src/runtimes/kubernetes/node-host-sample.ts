// Turns the node section of a kubelet summary, the node's capacity and its load figures into the
// `hostStatsMessage` of the bus contract, in the units of the Docker collector's host samples.
// Pure. The summary has CPU and memory; it has no load averages or uptime, which come from the
// node's kernel (see NodeLoadReading) or, without them, make the sample impossible: the
// contract requires both.
import { type HostStatsMessage, SCHEMA_VERSION, toTimestamp } from "@crowsnest/shared/agent";
import type { NodeFacts } from "./pod-facts.ts";
import type { SummaryNode } from "./summary-reading.ts";

/** Load averages and uptime of the node's kernel (`/proc/loadavg`, `/proc/uptime`). */
export interface NodeLoadReading {
  load: [number, number, number];
  uptimeS: number;
}

export interface NodeHostSampleInput {
  host: string;
  node: SummaryNode;
  /** The previous node reading, for CPU from the cumulative counter when the rate is absent. */
  previous: SummaryNode | undefined;
  capacity: NodeFacts | undefined;
  load: NodeLoadReading;
}

export type NodeHostSampleResult = { ok: true; message: HostStatsMessage } | { ok: false; detail: string };

export function buildNodeHostSample(input: NodeHostSampleInput): NodeHostSampleResult {
  const { node, capacity } = input;
  if (node.readAtMs === null) return { ok: false, detail: "the node section has no read time" };
  const onlineCpus = capacity?.onlineCpus ?? null;
  if (onlineCpus === null) return { ok: false, detail: "the node's CPU capacity is unknown" };
  const memory = nodeMemory(node, capacity?.memoryCapacityBytes ?? null);
  if (memory === undefined) return { ok: false, detail: "the node section has no memory figures" };
  return {
    ok: true,
    message: {
      v: SCHEMA_VERSION,
      host: input.host,
      ts: toTimestamp(new Date(node.readAtMs)),
      cpu_percent: nodeCpuPercent(input.previous, node, onlineCpus),
      online_cpus: onlineCpus,
      mem_total: memory.totalBytes,
      mem_used: memory.totalBytes - memory.availableBytes,
      mem_available: memory.availableBytes,
      load_1: input.load.load[0],
      load_5: input.load.load[1],
      load_15: input.load.load[2],
      uptime_s: input.load.uptimeS,
    },
  };
}

/**
 * The kubelet's `availableBytes` is capacity minus working set, so `mem_used` = total − available
 * is the node's working set, as `mem_used` is the working set of its containers.
 */
function nodeMemory(
  node: SummaryNode,
  capacityBytes: number | null,
): { totalBytes: number; availableBytes: number } | undefined {
  const { memoryAvailableBytes: available, memoryWorkingSetBytes: workingSet } = node;
  const totalBytes =
    capacityBytes ?? (available !== null && workingSet !== null ? available + workingSet : null);
  if (totalBytes === null) return undefined;
  const availableBytes = available ?? (workingSet !== null ? Math.max(0, totalBytes - workingSet) : null);
  if (availableBytes === null) return undefined;
  return { totalBytes, availableBytes: Math.min(availableBytes, totalBytes) };
}

/** Busy share of all the node's CPUs, 0–100, like the Docker host's. */
function nodeCpuPercent(
  previous: SummaryNode | undefined,
  node: SummaryNode,
  onlineCpus: number,
): number | null {
  const capacityNanoCores = onlineCpus * 1e9;
  if (node.usageNanoCores !== null) return Math.min(100, (node.usageNanoCores / capacityNanoCores) * 100);
  if (previous?.readAtMs == null || node.readAtMs === null) return null;
  if (previous.usageCoreNanoSeconds === null || node.usageCoreNanoSeconds === null) return null;
  const elapsedNs = (node.readAtMs - previous.readAtMs) * 1e6;
  const usedNs = node.usageCoreNanoSeconds - previous.usageCoreNanoSeconds;
  if (elapsedNs <= 0 || usedNs < 0) return null;
  return Math.min(100, (usedNs / (elapsedNs * onlineCpus)) * 100);
}
