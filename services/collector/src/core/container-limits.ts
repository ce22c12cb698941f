// A container's configured CPU and memory limits, as its runtime states them. Null means the
// container has no such limit; the host's capacity is never passed off as one.

export interface ContainerLimits {
  memLimitBytes: number | null;
  cpuLimitCores: number | null;
}

export const UNLIMITED: ContainerLimits = { memLimitBytes: null, cpuLimitCores: null };
