// When a task's process started, read from /proc: containerd keeps no start time for a task, and
// without one a container that died and started again while the watcher was not looking would
// look unchanged. The process's start (in clock ticks since boot, /proc/<pid>/stat field 22) plus
// the boot time (/proc/stat `btime`, whole seconds) gives it to 10 ms, a little early (btime is
// rounded down): a bound below the start event's own time, so a live start is never taken for a
// later run. Trusted only when the process is in the container's cgroup: a watcher in its own
// pid namespace sees other processes under the same pids.
import { readFile } from "node:fs/promises";

/** USER_HZ: the unit of /proc's clock ticks, 100 on every Linux architecture containerd runs on. */
const TICKS_PER_SECOND = 100n;

export interface ProcessStartTimes {
  /** The start of `pid` in ns since the epoch, when it belongs to the container `containerId`. */
  startedNano(pid: number, containerId: string): Promise<bigint | undefined>;
}

/** Start times kept at most: a host's running tasks, with room to spare. */
const MAX_REMEMBERED = 4096;

export function createProcessStartTimes(procRoot = "/proc"): ProcessStartTimes {
  let bootNano: bigint | undefined;
  // A task's process keeps its pid and its start for its whole life: each look (and every
  // inspection, which looks too) reads /proc only for tasks it has not seen yet.
  const remembered = new Map<string, bigint>();
  const boot = async (): Promise<bigint | undefined> => {
    if (bootNano !== undefined) return bootNano;
    const stat = await readFile(`${procRoot}/stat`, "utf8");
    const match = /^btime (\d+)$/m.exec(stat);
    bootNano = match?.[1] === undefined ? undefined : BigInt(match[1]) * 1_000_000_000n;
    return bootNano;
  };
  return {
    async startedNano(pid, containerId) {
      if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
      const key = `${containerId}\u0000${pid}`;
      const known = remembered.get(key);
      if (known !== undefined) return known;
      try {
        const cgroups = await readFile(`${procRoot}/${pid}/cgroup`, "utf8");
        if (!cgroups.includes(containerId)) return undefined;
        const stat = await readFile(`${procRoot}/${pid}/stat`, "utf8");
        // The command (field 2) is in parentheses and may hold spaces: count from its end.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const ticks = fields[19];
        const booted = await boot();
        if (ticks === undefined || !/^\d+$/.test(ticks) || booted === undefined) return undefined;
        const started = booted + (BigInt(ticks) * 1_000_000_000n) / TICKS_PER_SECOND;
        remembered.set(key, started);
        // The oldest first: Map keeps insertion order.
        if (remembered.size > MAX_REMEMBERED) remembered.delete(remembered.keys().next().value ?? key);
        return started;
      } catch {
        // The process ended meanwhile, or /proc is not the host's.
        return undefined;
      }
    },
  };
}
