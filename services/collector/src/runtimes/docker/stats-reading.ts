// Reads the counters the collector uses out of one Docker stats response
// (`GET /containers/{id}/stats?stream=false&one-shot=true`) on cgroup v1 or v2. Anything the
// engine leaves out or gets wrong makes that one value null; only a response without a usable
// read time is rejected, because without it no rate or timestamp can be right.
import {
  counter,
  field,
  isJsonObject,
  path,
  positiveInteger,
  sumCounters,
} from "@crowsnest/shared/util/json-fields";
import type { StatsReading } from "../../cgroup/stats-counters.ts";
import { parseEngineTime } from "../../core/engine-time.ts";

export type StatsReadResult =
  | { readonly ok: true; readonly reading: StatsReading }
  /** not_running: the engine answered for a container that has stopped meanwhile (zero read time). */
  | { readonly ok: false; readonly reason: "not_running" | "malformed"; readonly detail: string };

export function readDockerStats(raw: unknown): StatsReadResult {
  if (!isJsonObject(raw))
    return { ok: false, reason: "malformed", detail: "stats response is not an object" };
  const readAtMs = parseEngineTime(raw.read);
  if (readAtMs === undefined) {
    return { ok: false, reason: "malformed", detail: `unusable read time ${JSON.stringify(raw.read)}` };
  }
  // Go's zero time (0001-01-01): the engine had no cgroup to read.
  if (readAtMs <= 0) return { ok: false, reason: "not_running", detail: "the container is not running" };

  const cpuStats = raw.cpu_stats;
  const network = networkTotals(raw.networks);
  const block = blockTotals(raw.blkio_stats);
  return {
    ok: true,
    reading: {
      readAtMs,
      cpuTotalNs: counter(path(cpuStats, "cpu_usage", "total_usage")),
      systemCpuNs: counter(field(cpuStats, "system_cpu_usage")),
      onlineCpus: onlineCpus(cpuStats),
      memUsedBytes: memUsedBytes(raw.memory_stats),
      netRxBytes: network.rx,
      netTxBytes: network.tx,
      blkReadBytes: block.read,
      blkWriteBytes: block.write,
      pids: counter(path(raw.pids_stats, "current")),
    },
  };
}

function onlineCpus(cpuStats: unknown): number | null {
  const online = positiveInteger(field(cpuStats, "online_cpus"));
  if (online !== null) return online;
  // Engines before API 1.27 only had the per-CPU list (cgroup v1).
  const perCpu = path(cpuStats, "cpu_usage", "percpu_usage");
  return Array.isArray(perCpu) && perCpu.length > 0 ? perCpu.length : null;
}

function memUsedBytes(memoryStats: unknown): number | null {
  const usage = counter(field(memoryStats, "usage"));
  if (usage === null) return null;
  const stats = field(memoryStats, "stats");
  // cgroup v1 has both keys, and inactive_file there is this cgroup alone without its children;
  // the hierarchical total_inactive_file is what usage includes. cgroup v2 has only inactive_file.
  const key = isJsonObject(stats) && "total_inactive_file" in stats ? "total_inactive_file" : "inactive_file";
  const inactiveRaw = field(stats, key);
  // No cache figure at all (another platform): usage is all there is to report.
  if (inactiveRaw === undefined) return usage;
  const inactive = counter(inactiveRaw);
  if (inactive === null) return null;
  return Math.max(0, usage - inactive);
}

function networkTotals(networks: unknown): { rx: number | null; tx: number | null } {
  // Containers with `--network none` (or host networking) have no `networks` at all.
  if (!isJsonObject(networks)) return { rx: null, tx: null };
  const interfaces = Object.values(networks);
  if (interfaces.length === 0) return { rx: null, tx: null };
  return {
    rx: sumCounters(interfaces.map((nic) => field(nic, "rx_bytes"))),
    tx: sumCounters(interfaces.map((nic) => field(nic, "tx_bytes"))),
  };
}

function blockTotals(blkioStats: unknown): { read: number | null; write: number | null } {
  const entries = field(blkioStats, "io_service_bytes_recursive");
  // Null is "no figures", an empty list is "no I/O yet": only the latter is a real 0.
  if (!Array.isArray(entries)) return { read: null, write: null };
  // cgroup v1 names the operations Read/Write (plus Sync, Async, Total, which would count twice);
  // cgroup v2 names them read/write.
  const reads: unknown[] = [];
  const writes: unknown[] = [];
  for (const entry of entries as readonly unknown[]) {
    const op = field(entry, "op");
    if (op === "Read" || op === "read") reads.push(field(entry, "value"));
    else if (op === "Write" || op === "write") writes.push(field(entry, "value"));
  }
  return { read: sumCounters(reads), write: sumCounters(writes) };
}
