// A Docker container's CPU limit in cores, from its inspect answer's HostConfig: one reading of
// the settings for the collector's samples and the watcher's inventory, so both agents report the
// same limit for the same container. Null means no limit; the host's capacity is never passed off as one.
import { field, positiveInteger } from "../util/json-fields.ts";

/** The CFS period the kernel (and Docker) uses when CpuPeriod is left at 0: 100 ms, in µs. */
const DEFAULT_CPU_PERIOD_US = 100_000;

export function cpuLimitCores(hostConfig: unknown): number | null {
  // `--cpus` sets NanoCpus; `--cpu-quota`/`--cpu-period` set the CFS values. Docker refuses both at once.
  const nanoCpus = positiveInteger(field(hostConfig, "NanoCpus"));
  if (nanoCpus !== null) return nanoCpus / 1e9;
  // A quota of -1 (or 0) is unlimited.
  const quotaUs = positiveInteger(field(hostConfig, "CpuQuota"));
  if (quotaUs === null) return null;
  const periodUs = positiveInteger(field(hostConfig, "CpuPeriod")) ?? DEFAULT_CPU_PERIOD_US;
  return quotaUs / periodUs;
}
