// Parsers for the kernel's text files the collector reads: /proc/stat, /proc/meminfo,
// /proc/loadavg, /proc/uptime, /proc/<pid>/net/dev, and the cgroup v1/v2 stat files. Pure and
// total: a file that is not what the kernel writes gives null (or undefined) for the values it
// should have held, never an exception and never a made-up number.

/** The kernel's USER_HZ: /proc/stat counts in 1/100 s on every mainstream architecture. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** A non-negative integer written in decimal, or null. */
export function decimalCounter(text: string | undefined): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  return Number(text);
}

/** The aggregate `cpu` line of /proc/stat, and how many CPUs are online. */
export interface ProcStatCpu {
  /** user, nice, system, idle, iowait, irq, softirq, steal (missing trailing fields are 0). */
  readonly ticks: readonly number[];
  readonly onlineCpus: number;
}

export function parseProcStat(text: string): ProcStatCpu | undefined {
  let ticks: number[] | undefined;
  let onlineCpus = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("cpu")) {
      // The cpu lines come first; everything after them (intr, ctxt, ...) is of no use here.
      if (ticks !== undefined) break;
      continue;
    }
    if (line.startsWith("cpu ")) {
      const fields = line.slice(4).trim().split(/\s+/);
      // Kernels since 2.6.11 write at least eight fields; fewer is not a /proc/stat we know.
      if (fields.length < 7) return undefined;
      const parsed = fields.slice(0, 8).map(decimalCounter);
      if (parsed.some((value) => value === null)) return undefined;
      ticks = parsed as number[];
      while (ticks.length < 8) ticks.push(0);
    } else if (/^cpu\d+ /.test(line)) {
      onlineCpus += 1;
    }
  }
  if (ticks === undefined || onlineCpus === 0) return undefined;
  return { ticks, onlineCpus };
}

/**
 * The host's CPU time as dockerd reports it in `system_cpu_usage`: the first seven fields of the
 * `cpu` line (user to softirq, not steal) in nanoseconds. Using the very same sum is what makes
 * CPU percentages from files and from the API the same numbers.
 */
export function dockerSystemCpuNs(cpu: ProcStatCpu): number {
  let ticks = 0;
  for (let i = 0; i < 7; i++) ticks += cpu.ticks[i] ?? 0;
  return ticks * (1e9 / CLOCK_TICKS_PER_SECOND);
}

/** Busy and total CPU time of the host, in ticks: idle and iowait are idle, steal is not the guest's. */
export function hostCpuTicks(cpu: ProcStatCpu): { busy: number; total: number } {
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu.ticks;
  // guest and guest_nice (fields 9 and 10) are already counted in user and nice.
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

/** /proc/meminfo, values in bytes (the file says kB and means KiB). */
export function parseMeminfo(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^(\w+(?:\(\w+\))?):\s+(\d+)( kB)?$/.exec(line.trim());
    if (!match) continue;
    const [, key = "", amount = "", unit] = match;
    values.set(key, Number(amount) * (unit === undefined ? 1 : 1024));
  }
  return values;
}

/** The three load averages of /proc/loadavg. */
export function parseLoadavg(text: string): [number, number, number] | undefined {
  const fields = text.trim().split(/\s+/).slice(0, 3).map(nonNegativeDecimal);
  const [l1, l5, l15] = fields;
  if (
    l1 === null ||
    l5 === null ||
    l15 === null ||
    l1 === undefined ||
    l5 === undefined ||
    l15 === undefined
  ) {
    return undefined;
  }
  return [l1, l5, l15];
}

/** Seconds since boot, the first field of /proc/uptime. */
export function parseUptime(text: string): number | undefined {
  return nonNegativeDecimal(text.trim().split(/\s+/)[0]) ?? undefined;
}

function nonNegativeDecimal(text: string | undefined): number | null {
  if (text === undefined || !/^\d+(\.\d+)?$/.test(text)) return null;
  return Number(text);
}

/**
 * Received and sent bytes of every interface in /proc/<pid>/net/dev except the loopback, summed
 * as dockerd sums its sandbox's interfaces. Null when there is no such interface (a container
 * with `--network none` has only `lo`): no network figures, not zero traffic.
 */
export function parseNetDev(text: string): { rxBytes: number; txBytes: number } | null | undefined {
  let rxBytes = 0;
  let txBytes = 0;
  let interfaces = 0;
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    // The two header lines use `|`, not `:`.
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === "lo") continue;
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    const rx = decimalCounter(fields[0]);
    const tx = decimalCounter(fields[8]);
    if (rx === null || tx === null) return undefined;
    rxBytes += rx;
    txBytes += tx;
    interfaces += 1;
  }
  return interfaces === 0 ? null : { rxBytes, txBytes };
}

/**
 * The value of `key` in a flat keyed file (`memory.stat`, `cpu.stat`: one `key value` per line),
 * or null when the key is absent or its value is not a counter. Looks the one key up instead of
 * building a map: these files are read for every container every tick.
 */
export function keyedValue(text: string, key: string): number | null {
  let start: number;
  if (text.startsWith(`${key} `)) {
    start = key.length + 1;
  } else {
    const at = text.indexOf(`\n${key} `);
    if (at < 0) return null;
    start = at + key.length + 2;
  }
  let end = text.indexOf("\n", start);
  if (end < 0) end = text.length;
  return decimalCounter(text.slice(start, end).trim());
}

/** One integer file such as `cpuacct.usage`, `memory.current` or `pids.current`. */
export function singleCounter(text: string): number | null {
  return decimalCounter(text.trim());
}

export interface BlockTotals {
  readBytes: number;
  writeBytes: number;
}

/**
 * A cgroup v1 blkio file (`8:0 Read 4096` lines and a `Total` line): the Read and Write lines of
 * every device summed, as the engine sums the entries it reports. Undefined when a line is not
 * of that shape; an empty file (no I/O yet) is a real 0.
 */
export function parseBlkioV1(text: string): BlockTotals | undefined {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const fields = line.split(" ");
    if (fields[0] === "Total" && fields.length === 2) continue;
    if (fields.length !== 3 || !/^\d+:\d+$/.test(fields[0] ?? "")) return undefined;
    const value = decimalCounter(fields[2]);
    if (value === null) return undefined;
    if (fields[1] === "Read") readBytes += value;
    else if (fields[1] === "Write") writeBytes += value;
  }
  return { readBytes, writeBytes };
}

/** Whether a v1 blkio file lists any device (the engine skips CFQ files that list none). */
export function blkioHasDevices(text: string): boolean {
  return /^\d+:\d+ /m.test(text);
}

/** cgroup v2 `io.stat` (`259:0 rbytes=… wbytes=… rios=…` per device): rbytes and wbytes summed. */
export function parseIoStatV2(text: string): BlockTotals | undefined {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const [device, ...pairs] = line.trim().split(/\s+/);
    if (!/^\d+:\d+$/.test(device ?? "")) return undefined;
    for (const pair of pairs) {
      const [key, raw] = pair.split("=");
      if (key !== "rbytes" && key !== "wbytes") continue;
      const value = decimalCounter(raw);
      if (value === null) return undefined;
      if (key === "rbytes") readBytes += value;
      else writeBytes += value;
    }
  }
  return { readBytes, writeBytes };
}
