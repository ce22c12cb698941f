// What the cgroup fast path needs to know about a running container besides its id, read from
// its (cached) inspect JSON: the host PID of its first process, whose /proc/<pid>/net/dev shows
// the container's network namespace; its network mode; and its cgroup parent.
import { field, positiveInteger } from "@crowsnest/shared/util/json-fields";

export interface ContainerProcess {
  /** State.Pid: the host PID of the container's first process; null when it is not running. */
  pid: number | null;
  /** HostConfig.NetworkMode: `bridge`, `none`, `host`, `container:<id>`, a network's name; null when absent. */
  networkMode: string | null;
  /** HostConfig.CgroupParent; null when dockerd's default applies. */
  cgroupParent: string | null;
}

export const NO_PROCESS: ContainerProcess = { pid: null, networkMode: null, cgroupParent: null };

export function processFromInspect(inspect: unknown): ContainerProcess {
  const hostConfig = field(inspect, "HostConfig");
  const text = (value: unknown): string | null => (typeof value === "string" && value !== "" ? value : null);
  return {
    // Docker writes 0 for a container that is not running.
    pid: positiveInteger(field(field(inspect, "State"), "Pid")),
    networkMode: text(field(hostConfig, "NetworkMode")),
    cgroupParent: text(field(hostConfig, "CgroupParent")),
  };
}

/**
 * Whether dockerd reports network figures for this mode: not for `host` (the host's interfaces
 * are not the container's), `none` (only loopback) or `container:<id>` (the other container's).
 */
export function hasOwnNetwork(networkMode: string | null): boolean {
  if (networkMode === null) return true;
  return networkMode !== "host" && networkMode !== "none" && !networkMode.startsWith("container:");
}
