// A Docker container's configured CPU and memory limits and its start time, read from its
// inspect JSON.
import { cpuLimitCores } from "@crowsnest/shared/agent";
import { field, positiveInteger } from "@crowsnest/shared/util/json-fields";
import type { ContainerLimits } from "../../core/container-limits.ts";

export function limitsFromInspect(inspect: unknown): ContainerLimits {
  const hostConfig = field(inspect, "HostConfig");
  return {
    // 0 is Docker's "no limit".
    memLimitBytes: positiveInteger(field(hostConfig, "Memory")),
    cpuLimitCores: cpuLimitCores(hostConfig),
  };
}

/** State.StartedAt of an inspect answer, to tell a restarted container from the one cached. */
export function startedAtFromInspect(inspect: unknown): string | null {
  const startedAt = field(field(inspect, "State"), "StartedAt");
  return typeof startedAt === "string" ? startedAt : null;
}
