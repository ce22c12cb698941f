// The fast path: reads a container's counters straight from its cgroup files and its network
// namespace's /proc/<pid>/net/dev, the same files and the same sums dockerd uses for its stats
// API, so both paths give the same numbers at a small fraction of the cost (no engine round
// trip, no JSON, no wait for dockerd's 1 s collection cycle). Reads are synchronous on purpose:
// for files this small, readFileSync costs a fifth of fs.promises, and a tick reads every
// container in one pass, which also keeps each container's reading close to the host CPU clock.
// Each file is opened once and read again with one pread per tick (kernel-file.ts), which costs a
// third of readFileSync's open, read and close.
//
// Anything missing (the cgroup moved or is gone, the PID is not visible from here) is reported,
// not guessed, so the collector can ask the Docker API for that container instead.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type CgroupLayout, containerCgroupCandidates } from "../../procfs/cgroup-layout.ts";
import {
  blkioHasDevices,
  dockerSystemCpuNs,
  keyedValue,
  parseBlkioV1,
  parseIoStatV2,
  parseNetDev,
  parseProcStat,
  singleCounter,
} from "../../procfs/proc-parsers.ts";
import { type ContainerProcess, hasOwnNetwork } from "./container-process.ts";
import { type KernelFile, kernelFile, regeneratesOnRead } from "./kernel-file.ts";
import type { StatsReading } from "./stats-reading.ts";

export type FileReadResult =
  | { readonly ok: true; readonly reading: StatsReading }
  | { readonly ok: false; readonly detail: string };

/** What the Docker runtime needs of a fast path: it depends on this, tests may pass another. */
export interface ContainerFileReader {
  /** Reads what every container's reading shares (the host's CPU clock); `ok: false` with why when it cannot. */
  beginTick(): FileReadResult | { readonly ok: true };
  read(id: string, process: ContainerProcess): FileReadResult;
  /**
   * The ids of the container cgroups under dockerd's default parents, to tell cheaply whether the
   * host's containers changed; undefined when that cannot be told.
   */
  containerIds(): ReadonlySet<string> | undefined;
  /** Forgets containers not in `ids`. */
  retainOnly(ids: ReadonlySet<string>): void;
}

export interface CgroupStatsReaderOptions {
  layout: CgroupLayout;
  /** Where the host's /proc is visible (`/proc`, or `/host/proc` in a container). */
  procRoot: string;
  now?: () => number;
}

/** One container's files, found once when its cgroup is found. */
type ContainerFiles =
  | {
      readonly version: 1;
      readonly cpu: KernelFile;
      readonly memUsage: KernelFile;
      readonly memStat: KernelFile;
      /** The CFQ scheduler's counters, when the kernel has them. */
      readonly blkioCfq: KernelFile | null;
      /** Null when the blkio controller is not mounted. */
      readonly blkioThrottle: KernelFile | null;
      readonly pids: KernelFile | null;
    }
  | {
      readonly version: 2;
      readonly cpu: KernelFile;
      readonly memUsage: KernelFile;
      readonly memStat: KernelFile;
      /** Null when the io controller is not enabled for the container's cgroup. */
      readonly io: KernelFile | null;
      readonly pids: KernelFile | null;
    };

interface ResolvedContainer {
  files: ContainerFiles;
  /** The PID whose /proc/<pid>/cgroup was seen to name this container, and its net/dev. */
  verifiedPid: number | null;
  netDev: KernelFile | null;
}

function closeAll(resolved: ResolvedContainer): void {
  const { files } = resolved;
  const all =
    files.version === 1
      ? [files.cpu, files.memUsage, files.memStat, files.blkioCfq, files.blkioThrottle, files.pids]
      : [files.cpu, files.memUsage, files.memStat, files.io, files.pids];
  for (const file of all) file?.close();
  resolved.netDev?.close();
  resolved.netDev = null;
  resolved.verifiedPid = null;
}

/** dockerd's default parents: `docker/<id>` (cgroupfs driver), `system.slice/docker-<id>.scope` (systemd). */
const CONTAINER_CGROUP_NAMES: readonly (readonly [string, RegExp])[] = [
  ["docker", /^([0-9a-f]{64})$/],
  ["system.slice", /^docker-([0-9a-f]{64})\.scope$/],
];

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

export class CgroupStatsReader implements ContainerFileReader {
  readonly #layout: CgroupLayout;
  readonly #procRoot: string;
  readonly #now: () => number;
  readonly #resolved = new Map<string, ResolvedContainer>();
  /** Whether the cgroup files, and those under the proc root, can be kept open (kernel-file.ts). */
  readonly #keepCgroupsOpen: boolean;
  readonly #keepProcOpen: boolean;
  readonly #procStat: KernelFile;
  #systemCpuNs: number | null = null;
  #onlineCpus: number | null = null;

  constructor(options: CgroupStatsReaderOptions) {
    this.#layout = options.layout;
    this.#procRoot = options.procRoot;
    this.#now = options.now ?? Date.now;
    const layout = options.layout;
    this.#keepCgroupsOpen =
      layout.version === 1
        ? [layout.cpuacct, layout.memory, layout.blkio, layout.pids].every(
            (hierarchy) => hierarchy === null || regeneratesOnRead(hierarchy),
          )
        : regeneratesOnRead(layout.root);
    this.#keepProcOpen = regeneratesOnRead(options.procRoot);
    this.#procStat = kernelFile(join(options.procRoot, "stat"), this.#keepProcOpen);
  }

  beginTick(): FileReadResult | { readonly ok: true } {
    const text = this.#procStat.read();
    const cpu = text === undefined ? undefined : parseProcStat(text);
    if (cpu === undefined) {
      this.#systemCpuNs = null;
      this.#onlineCpus = null;
      return { ok: false, detail: `${this.#procStat.path} is missing or not a /proc/stat` };
    }
    this.#systemCpuNs = dockerSystemCpuNs(cpu);
    this.#onlineCpus = cpu.onlineCpus;
    return { ok: true };
  }

  read(id: string, process: ContainerProcess): FileReadResult {
    if (this.#systemCpuNs === null) return { ok: false, detail: "the host's /proc/stat is not readable" };
    const known = this.#resolved.get(id);
    let resolved = known ?? this.#resolve(id, process.cgroupParent);
    if (resolved === undefined) return { ok: false, detail: "no cgroup directory found for the container" };
    let readAtMs = this.#now();
    let counters = resolved.files.version === 1 ? readV1(resolved.files) : readV2(resolved.files);
    if (!counters.ok && known !== undefined) {
      // Files kept open since an earlier tick fail once their cgroup was removed, also when the
      // container was restarted into a new cgroup of the same name: look for it again, once.
      this.#forget(id, known);
      resolved = this.#resolve(id, process.cgroupParent);
      if (resolved === undefined) return { ok: false, detail: "no cgroup directory found for the container" };
      readAtMs = this.#now();
      counters = resolved.files.version === 1 ? readV1(resolved.files) : readV2(resolved.files);
    }
    if (!counters.ok) {
      // The cgroup may have been recreated elsewhere (a restart with another parent): look again next time.
      this.#forget(id, resolved);
      return counters;
    }
    const network = this.#readNetwork(id, resolved, process);
    if (!network.ok) return network;
    return {
      ok: true,
      reading: {
        readAtMs,
        cpuTotalNs: counters.cpuTotalNs,
        systemCpuNs: this.#systemCpuNs,
        onlineCpus: this.#onlineCpus,
        memUsedBytes: counters.memUsedBytes,
        netRxBytes: network.rxBytes,
        netTxBytes: network.txBytes,
        blkReadBytes: counters.blkReadBytes,
        blkWriteBytes: counters.blkWriteBytes,
        pids: counters.pids,
      },
    };
  }

  retainOnly(ids: ReadonlySet<string>): void {
    for (const [id, resolved] of this.#resolved) if (!ids.has(id)) this.#forget(id, resolved);
  }

  /** Forgets the container and releases its kept files. */
  #forget(id: string, resolved: ResolvedContainer): void {
    closeAll(resolved);
    this.#resolved.delete(id);
  }

  containerIds(): ReadonlySet<string> | undefined {
    const hierarchy = this.#layout.version === 1 ? this.#layout.cpuacct : this.#layout.root;
    const ids = new Set<string>();
    for (const [parent, pattern] of CONTAINER_CGROUP_NAMES) {
      let entries: string[];
      try {
        entries = readdirSync(join(hierarchy, parent));
      } catch (error) {
        // No container ever ran under this parent: none there. Anything else: cannot tell.
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        return undefined;
      }
      for (const entry of entries) {
        const id = pattern.exec(entry)?.[1];
        if (id !== undefined) ids.add(id);
      }
    }
    return ids;
  }

  #resolve(id: string, cgroupParent: string | null): ResolvedContainer | undefined {
    // The CPU accounting file tells the container's directory apart from a stale empty one.
    const layout = this.#layout;
    for (const relative of containerCgroupCandidates(id, cgroupParent)) {
      const cpu =
        layout.version === 1
          ? join(layout.cpuacct, relative, "cpuacct.usage")
          : join(layout.root, relative, "cpu.stat");
      if (!existsSync(cpu)) continue;
      const resolved: ResolvedContainer = {
        files: containerFiles(layout, relative, cpu, this.#keepCgroupsOpen),
        verifiedPid: null,
        netDev: null,
      };
      this.#resolved.set(id, resolved);
      return resolved;
    }
    return undefined;
  }

  #readNetwork(
    id: string,
    resolved: ResolvedContainer,
    process: ContainerProcess,
  ): { ok: true; rxBytes: number | null; txBytes: number | null } | { ok: false; detail: string } {
    if (!hasOwnNetwork(process.networkMode)) return { ok: true, rxBytes: null, txBytes: null };
    const { pid } = process;
    if (pid === null) return { ok: false, detail: "the container has no PID to read its network from" };
    let netDev = resolved.netDev;
    if (resolved.verifiedPid !== pid || netDev === null) {
      // Once per PID: a proc root from another PID namespace could show an unrelated process
      // under the same number, whose network would be reported as the container's. (A kept
      // net/dev stays with the network namespace it was opened on; a restart, which gives the
      // container a new one, also replaces its cgroup, which makes read() start over here.)
      netDev?.close();
      resolved.netDev = null;
      resolved.verifiedPid = null;
      const pidDir = join(this.#procRoot, String(pid));
      const cgroups = readText(join(pidDir, "cgroup"));
      if (cgroups === undefined) return missing(pidDir);
      if (!cgroups.includes(id)) return { ok: false, detail: `${pidDir} is not a process of this container` };
      netDev = kernelFile(join(pidDir, "net", "dev"), this.#keepProcOpen);
      resolved.verifiedPid = pid;
      resolved.netDev = netDev;
    }
    const text = netDev.read();
    if (text === undefined) {
      netDev.close();
      resolved.verifiedPid = null;
      resolved.netDev = null;
      return missing(netDev.path);
    }
    const totals = parseNetDev(text);
    return { ok: true, rxBytes: totals?.rxBytes ?? null, txBytes: totals?.txBytes ?? null };
  }
}

type CounterResult =
  | {
      ok: true;
      cpuTotalNs: number | null;
      memUsedBytes: number | null;
      blkReadBytes: number | null;
      blkWriteBytes: number | null;
      pids: number | null;
    }
  | { ok: false; detail: string };

function missing(path: string): { ok: false; detail: string } {
  return { ok: false, detail: `cannot read ${path}` };
}

/**
 * Usage minus inactive file cache, floored at 0, as stats-reading.ts computes it from the API:
 * the first of `keys` that memory.stat has is the cache figure; with none, usage is all there is.
 */
function memUsed(usage: number | null, statText: string, keys: readonly string[]): number | null {
  if (usage === null) return null;
  for (const key of keys) {
    if (!hasKey(statText, key)) continue;
    const inactive = keyedValue(statText, key);
    return inactive === null ? null : Math.max(0, usage - inactive);
  }
  return usage;
}

function hasKey(text: string, key: string): boolean {
  return text.startsWith(`${key} `) || text.includes(`\n${key} `);
}

function containerFiles(
  layout: CgroupLayout,
  relative: string,
  cpuPath: string,
  keepOpen: boolean,
): ContainerFiles {
  const file = (path: string) => kernelFile(path, keepOpen);
  const cpu = file(cpuPath);
  if (layout.version === 1) {
    const memory = join(layout.memory, relative);
    const blkio = layout.blkio === null ? null : join(layout.blkio, relative);
    const cfq = blkio === null ? null : join(blkio, "blkio.io_service_bytes_recursive");
    return {
      version: 1,
      cpu,
      memUsage: file(join(memory, "memory.usage_in_bytes")),
      memStat: file(join(memory, "memory.stat")),
      blkioCfq: cfq !== null && existsSync(cfq) ? file(cfq) : null,
      blkioThrottle: blkio === null ? null : file(join(blkio, "blkio.throttle.io_service_bytes")),
      pids: layout.pids === null ? null : file(join(layout.pids, relative, "pids.current")),
    };
  }
  const dir = join(layout.root, relative);
  const optional = (name: string) => (existsSync(join(dir, name)) ? file(join(dir, name)) : null);
  return {
    version: 2,
    cpu,
    memUsage: file(join(dir, "memory.current")),
    memStat: file(join(dir, "memory.stat")),
    // io and pids are controllers a cgroup may not have enabled; dockerd then reports no figures either.
    io: optional("io.stat"),
    pids: optional("pids.current"),
  };
}

function readV1(files: Extract<ContainerFiles, { version: 1 }>): CounterResult {
  const cpuText = files.cpu.read();
  if (cpuText === undefined) return missing(files.cpu.path);
  const usageText = files.memUsage.read();
  const statText = files.memStat.read();
  if (usageText === undefined || statText === undefined) return missing(files.memUsage.path);
  let block: { read: number | null; write: number | null } = { read: null, write: null };
  if (files.blkioThrottle !== null) {
    const totals = readBlkioV1(files.blkioCfq, files.blkioThrottle);
    if (totals === "missing") return missing(files.blkioThrottle.path);
    block = totals;
  }
  let pids: number | null = null;
  if (files.pids !== null) {
    const pidsText = files.pids.read();
    if (pidsText === undefined) return missing(files.pids.path);
    pids = singleCounter(pidsText);
  }
  return {
    ok: true,
    cpuTotalNs: singleCounter(cpuText),
    // v1 has both keys; the hierarchical total_inactive_file is the one usage includes.
    memUsedBytes: memUsed(singleCounter(usageText), statText, ["total_inactive_file", "inactive_file"]),
    blkReadBytes: block.read,
    blkWriteBytes: block.write,
    pids,
  };
}

function readV2(files: Extract<ContainerFiles, { version: 2 }>): CounterResult {
  const cpuText = files.cpu.read();
  const usageText = files.memUsage.read();
  const statText = files.memStat.read();
  if (cpuText === undefined || usageText === undefined || statText === undefined)
    return missing(files.cpu.path);
  const usageUs = keyedValue(cpuText, "usage_usec");
  const ioText = files.io?.read();
  const io = ioText === undefined ? undefined : parseIoStatV2(ioText);
  const pidsText = files.pids?.read();
  return {
    ok: true,
    cpuTotalNs: usageUs === null ? null : usageUs * 1000,
    memUsedBytes: memUsed(singleCounter(usageText), statText, ["inactive_file"]),
    blkReadBytes: io?.readBytes ?? null,
    blkWriteBytes: io?.writeBytes ?? null,
    pids: pidsText === undefined ? null : singleCounter(pidsText),
  };
}

/**
 * Block I/O as containerd's shim reports it to dockerd on cgroup v1: the CFQ scheduler's
 * `blkio.io_service_bytes_recursive` when the kernel has it and it lists devices, otherwise the
 * throttle layer's `blkio.throttle.io_service_bytes` (the container's own cgroup; it has no
 * children unless something inside creates them).
 */
function readBlkioV1(
  cfqFile: KernelFile | null,
  throttleFile: KernelFile,
): { read: number | null; write: number | null } | "missing" {
  const cfq = cfqFile?.read();
  const text = cfq !== undefined && blkioHasDevices(cfq) ? cfq : throttleFile.read();
  if (text === undefined) return "missing";
  const totals = parseBlkioV1(text);
  return totals === undefined
    ? { read: null, write: null }
    : { read: totals.readBytes, write: totals.writeBytes };
}
