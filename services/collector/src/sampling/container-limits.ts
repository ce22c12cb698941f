// A container's configured CPU and memory limits, read from its inspect JSON. Null means the
// container has no such limit; the host's capacity is never passed off as one.
import { field, positiveInteger } from "@crowsnest/shared/util/json-fields";

export interface ContainerLimits {
  memLimitBytes: number | null;
  cpuLimitCores: number | null;
}

export const UNLIMITED: ContainerLimits = { memLimitBytes: null, cpuLimitCores: null };

/** The CFS period the kernel (and Docker) uses when CpuPeriod is left at 0: 100 ms, in µs. */
const DEFAULT_CPU_PERIOD_US = 100_000;

export function limitsFromInspect(inspect: unknown): ContainerLimits {
  const hostConfig = field(inspect, "HostConfig");
  return {
    // 0 is Docker's "no limit".
    memLimitBytes: positiveInteger(field(hostConfig, "Memory")),
    cpuLimitCores: cpuLimitCores(hostConfig),
  };
}

function cpuLimitCores(hostConfig: unknown): number | null {
  // `--cpus` sets NanoCpus; `--cpu-quota`/`--cpu-period` set the CFS values. Docker refuses both at once.
  const nanoCpus = positiveInteger(field(hostConfig, "NanoCpus"));
  if (nanoCpus !== null) return nanoCpus / 1e9;
  // A quota of -1 (or 0) is unlimited.
  const quotaUs = positiveInteger(field(hostConfig, "CpuQuota"));
  if (quotaUs === null) return null;
  const periodUs = positiveInteger(field(hostConfig, "CpuPeriod")) ?? DEFAULT_CPU_PERIOD_US;
  return quotaUs / periodUs;
}

/** State.StartedAt of an inspect answer, to tell a restarted container from the one cached. */
export function startedAtFromInspect(inspect: unknown): string | null {
  const startedAt = field(field(inspect, "State"), "StartedAt");
  return typeof startedAt === "string" ? startedAt : null;
}
