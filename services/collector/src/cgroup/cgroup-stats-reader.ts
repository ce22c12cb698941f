// The fast path: reads a container's counters straight from its cgroup files and its network
// namespace's /proc/<pid>/net/dev, the same files and the same sums the runtimes use for their
// stats APIs (dockerd's stats, containerd's Metrics), so both paths give the same numbers at a
// small fraction of the cost (no runtime round trip, no decoding, no wait for dockerd's 1 s
// collection cycle). Where a runtime puts a container's cgroup is its CgroupNaming; everything
// else is the same for every runtime. Reads are synchronous on purpose: for files this small,
// readFileSync costs a fifth of fs.promises, and a tick reads every container in one pass, which
// also keeps each container's reading close to the host CPU clock. Each file is opened once and
// read again with one pread per tick (kernel-file.ts), which costs a third of readFileSync's
// open, read and close, and parsed in place from the bytes read (proc-parsers.ts): no string of
// each file, no arrays of its lines (a quarter fewer bytes allocated per sample).
//
// Anything missing (the cgroup moved or is gone, the PID is not visible from here) is reported,
// not guessed, so the collector can ask the runtime's API for that container instead.
import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { CgroupLayout } from "../procfs/cgroup-layout.ts";
import {
  type BlockTotals,
  blkioHasDevices,
  dockerSystemCpuNs,
  keyedValue,
  keyedValueIfPresent,
  parseBlkioV1,
  parseIoStatV2,
  parseProcStat,
  singleCounter,
} from "../procfs/proc-parsers.ts";
import { type KernelFile, kernelFile, kernelFileBytes, regeneratesOnRead } from "./kernel-file.ts";
import { ProcessNetworks } from "./process-network.ts";
import type { StatsReading } from "./stats-counters.ts";

export type FileReadResult =
  | { readonly ok: true; readonly reading: StatsReading }
  | { readonly ok: false; readonly detail: string };

/** What a runtime needs of a fast path: it depends on this, tests may pass another. */
export interface ContainerFileReader<Process> {
  /** Reads what every container's reading shares (the host's CPU clock); `ok: false` with why when it cannot. */
  beginTick(): FileReadResult | { readonly ok: true };
  /** Reads the container the runtime knows as `key` (unique on the host), whose process is described by `process`. */
  read(key: string, process: Process): FileReadResult;
  /**
   * The ids of the container cgroups under the runtime's default parents, to tell cheaply whether
   * the host's containers changed; undefined when that cannot be told.
   */
  containerIds(): ReadonlySet<string> | undefined;
  /**
   * The entries of these directories (relative to a hierarchy's root) as `<dir>/<entry>`, to tell
   * cheaply whether the containers under them changed; a directory that is not there has none.
   * Undefined when that cannot be told.
   */
  cgroupEntries(dirs: readonly string[]): ReadonlySet<string> | undefined;
  /** Forgets containers not in `keys`. */
  retainOnly(keys: ReadonlySet<string>): void;
  /**
   * What the limit files of a container read since its cgroup was found say now, as a string to
   * compare with an earlier one: it changes when a limit does and when the container's cgroup
   * is a new one (a new run). Undefined when it cannot be told; absent: limits are not read from
   * files.
   */
  limitsSignature?(key: string): string | undefined;
}

/** Where a runtime puts its containers' cgroups, and which process shows a container's network. */
export interface CgroupNaming<Process> {
  /** Directories, relative to each hierarchy's root, that may hold the container's cgroup; most likely first. */
  cgroupCandidates(key: string, process: Process): readonly string[];
  /** Whether the container has a network of its own (not the host's, not another container's, not none). */
  hasOwnNetwork(process: Process): boolean;
  /** The host PID of the container's first process; null when it has none (not running). */
  pid(process: Process): number | null;
  /**
   * The runtime's default parent directories and the pattern of a container's cgroup name under
   * each (group 1: the container's id), for containerIds(); none: containerIds() cannot tell.
   */
  readonly defaultParents: readonly (readonly [string, RegExp])[];
}

export interface CgroupStatsReaderOptions<Process> {
  layout: CgroupLayout;
  naming: CgroupNaming<Process>;
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
  /** The container's cgroup directory, relative to each hierarchy's root. */
  relative: string;
  /** The last component of the container's cgroup directory, which its process's /proc/<pid>/cgroup names. */
  cgroupName: string;
  /** Tells this cgroup apart from an earlier one of the same container: a number no other resolution had. */
  run: number;
  /** The limit files, opened at the first limitsSignature(): most ticks do not read them. */
  limitFiles: readonly KernelFile[] | undefined;
}

function closeAll(resolved: ResolvedContainer): void {
  const { files } = resolved;
  const all =
    files.version === 1
      ? [files.cpu, files.memUsage, files.memStat, files.blkioCfq, files.blkioThrottle, files.pids]
      : [files.cpu, files.memUsage, files.memStat, files.io, files.pids];
  for (const file of all) file?.close();
  for (const file of resolved.limitFiles ?? []) file.close();
}

export class CgroupStatsReader<Process> implements ContainerFileReader<Process> {
  readonly #layout: CgroupLayout;
  readonly #naming: CgroupNaming<Process>;
  readonly #now: () => number;
  readonly #resolved = new Map<string, ResolvedContainer>();
  /**
   * containerIds()' last answer and the directory entries it came from, parent by parent: while
   * they are the same names, the answer is the same, and is not built again every tick (a match
   * array per entry and a new set).
   */
  #lastIds: { entries: string[][]; ids: ReadonlySet<string> } | undefined;
  readonly #networks: ProcessNetworks;
  /** Whether the cgroup files can be kept open (kernel-file.ts). */
  readonly #keepCgroupsOpen: boolean;
  readonly #procStat: KernelFile;
  #systemCpuNs: number | null = null;
  #onlineCpus: number | null = null;
  /** Resolutions so far: each resolved container's run. */
  #runs = 0;

  constructor(options: CgroupStatsReaderOptions<Process>) {
    this.#layout = options.layout;
    this.#naming = options.naming;
    this.#now = options.now ?? Date.now;
    const layout = options.layout;
    this.#keepCgroupsOpen =
      layout.version === 1
        ? [layout.cpuacct, layout.memory, layout.blkio, layout.pids].every(
            (hierarchy) => hierarchy === null || regeneratesOnRead(hierarchy),
          )
        : regeneratesOnRead(layout.root);
    this.#networks = new ProcessNetworks(options.procRoot);
    this.#procStat = kernelFile(join(options.procRoot, "stat"), regeneratesOnRead(options.procRoot), {
      oneRecord: true,
    });
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

  read(key: string, process: Process): FileReadResult {
    if (this.#systemCpuNs === null) return { ok: false, detail: "the host's /proc/stat is not readable" };
    const known = this.#resolved.get(key);
    let resolved = known ?? this.#resolve(key, process);
    if (resolved === undefined) return { ok: false, detail: "no cgroup directory found for the container" };
    let readAtMs = this.#now();
    let counters = resolved.files.version === 1 ? readV1(resolved.files) : readV2(resolved.files);
    if (!counters.ok && known !== undefined) {
      // Files kept open since an earlier tick fail once their cgroup was removed, also when the
      // container was restarted into a new cgroup of the same name: look for it again, once.
      this.#forget(key, known);
      resolved = this.#resolve(key, process);
      if (resolved === undefined) return { ok: false, detail: "no cgroup directory found for the container" };
      readAtMs = this.#now();
      counters = resolved.files.version === 1 ? readV1(resolved.files) : readV2(resolved.files);
    }
    if (!counters.ok) {
      // The cgroup may have been recreated elsewhere (a restart with another parent): look again next time.
      this.#forget(key, resolved);
      return counters;
    }
    let rxBytes: number | null = null;
    let txBytes: number | null = null;
    if (this.#naming.hasOwnNetwork(process)) {
      const pid = this.#naming.pid(process);
      if (pid === null) return { ok: false, detail: "the container has no PID to read its network from" };
      const network = this.#networks.read(key, pid, resolved.cgroupName);
      if (!network.ok) return network;
      rxBytes = network.rxBytes;
      txBytes = network.txBytes;
    }
    return {
      ok: true,
      reading: {
        readAtMs,
        cpuTotalNs: counters.cpuTotalNs,
        systemCpuNs: this.#systemCpuNs,
        onlineCpus: this.#onlineCpus,
        memUsedBytes: counters.memUsedBytes,
        netRxBytes: rxBytes,
        netTxBytes: txBytes,
        blkReadBytes: counters.blkReadBytes,
        blkWriteBytes: counters.blkWriteBytes,
        pids: counters.pids,
      },
    };
  }

  limitsSignature(key: string): string | undefined {
    const resolved = this.#resolved.get(key);
    if (resolved === undefined) return undefined;
    resolved.limitFiles ??= limitFiles(this.#layout, resolved.relative, this.#keepCgroupsOpen);
    let signature = String(resolved.run);
    for (const file of resolved.limitFiles) {
      const text = file.read();
      if (text === undefined) return undefined;
      signature += `\n${text}`;
    }
    return signature;
  }

  retainOnly(keys: ReadonlySet<string>): void {
    // forEach, not for-of: no entry array and iterator result per container every tick.
    this.#resolved.forEach((resolved, key) => {
      if (!keys.has(key)) this.#forget(key, resolved);
    });
    this.#networks.retainOnly(keys);
  }

  /**
   * Forgets the container and releases its kept files; its network too: a new cgroup is a new
   * run, whose process (and network namespace) is checked afresh.
   */
  #forget(key: string, resolved: ResolvedContainer): void {
    closeAll(resolved);
    this.#resolved.delete(key);
    this.#networks.forget(key);
  }

  containerIds(): ReadonlySet<string> | undefined {
    const parents = this.#naming.defaultParents;
    if (parents.length === 0) return undefined;
    // Names only, every tick: a container's pattern never matches a control file's name, so
    // telling directories from files (a Dirent per entry) is not needed here.
    const entries: string[][] = [];
    for (const [parent] of parents) {
      const names = this.#entries(parent, false);
      if (names === undefined) return undefined;
      entries.push(names);
    }
    const last = this.#lastIds;
    if (last !== undefined && entries.every((names, index) => sameNames(names, last.entries[index]))) {
      return last.ids;
    }
    const ids = new Set<string>();
    parents.forEach(([, pattern], index) => {
      for (const entry of entries[index] ?? []) {
        const id = pattern.exec(entry)?.[1];
        if (id !== undefined) ids.add(id);
      }
    });
    this.#lastIds = { entries, ids };
    return ids;
  }

  cgroupEntries(dirs: readonly string[]): ReadonlySet<string> | undefined {
    const found = new Set<string>();
    for (const dir of dirs) {
      const entries = this.#entries(dir, true);
      if (entries === undefined) return undefined;
      for (const entry of entries) found.add(`${dir}/${entry}`);
    }
    return found;
  }

  /**
   * The entries of a directory of the CPU accounting hierarchy: its child cgroups (its
   * subdirectories, without its control files when `onlyDirectories`); none when it is not
   * there, undefined when it cannot be read.
   */
  #entries(dir: string, onlyDirectories: boolean): string[] | undefined {
    const hierarchy = this.#layout.version === 1 ? this.#layout.cpuacct : this.#layout.root;
    try {
      if (!onlyDirectories) return readdirSync(join(hierarchy, dir));
      return readdirSync(join(hierarchy, dir), { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name);
    } catch (error) {
      // No container ever ran under this directory: none there. Anything else: cannot tell.
      return (error as NodeJS.ErrnoException).code === "ENOENT" ? [] : undefined;
    }
  }

  #resolve(key: string, process: Process): ResolvedContainer | undefined {
    // The CPU accounting file tells the container's directory apart from a stale empty one.
    const layout = this.#layout;
    for (const relative of this.#naming.cgroupCandidates(key, process)) {
      const cpu =
        layout.version === 1
          ? join(layout.cpuacct, relative, "cpuacct.usage")
          : join(layout.root, relative, "cpu.stat");
      if (!existsSync(cpu)) continue;
      this.#runs += 1;
      const resolved: ResolvedContainer = {
        files: containerFiles(layout, relative, cpu, this.#keepCgroupsOpen),
        relative,
        cgroupName: basename(relative),
        run: this.#runs,
        limitFiles: undefined,
      };
      this.#resolved.set(key, resolved);
      return resolved;
    }
    return undefined;
  }
}

/** The same names in the same order (readdir lists an unchanged directory in the same order). */
function sameNames(names: readonly string[], last: readonly string[] | undefined): boolean {
  if (last === undefined || names.length !== last.length) return false;
  for (let index = 0; index < names.length; index++) if (names[index] !== last[index]) return false;
  return true;
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
 * Usage minus inactive file cache, floored at 0, as the runtimes compute it for their APIs:
 * the first of `keys` that memory.stat (just read, `length` bytes) has is the cache figure; with
 * none, usage is all there is.
 */
function memUsed(usage: number | null, length: number, keys: readonly string[]): number | null {
  if (usage === null) return null;
  const bytes = kernelFileBytes();
  // Indexed: no iterator per container every tick where this runs unoptimized.
  for (let index = 0; index < keys.length; index++) {
    const inactive = keyedValueIfPresent(bytes, length, keys[index] as string);
    if (inactive === undefined) continue;
    return inactive === null ? null : Math.max(0, usage - inactive);
  }
  return usage;
}

/** The one counter of a file such as cpuacct.usage: undefined when it cannot be read, null when it holds no counter. */
function readCounter(file: KernelFile): number | null | undefined {
  const length = file.readBytes();
  return length === undefined ? undefined : singleCounter(kernelFileBytes(), length);
}

/** The value of `key` in a flat keyed file: undefined when the file cannot be read. */
function readKeyed(file: KernelFile, key: string): number | null | undefined {
  const length = file.readBytes();
  return length === undefined ? undefined : keyedValue(kernelFileBytes(), length, key);
}

/** memUsed over memory.stat as read now: undefined when it cannot be read. */
function readMemUsed(
  file: KernelFile,
  usage: number | null,
  keys: readonly string[],
): number | null | undefined {
  const length = file.readBytes();
  return length === undefined ? undefined : memUsed(usage, length, keys);
}

function containerFiles(
  layout: CgroupLayout,
  relative: string,
  cpuPath: string,
  keepOpen: boolean,
): ContainerFiles {
  // Every cgroup file is one record: the kernel formats it whole for each read.
  const file = (path: string) => kernelFile(path, keepOpen, { oneRecord: true });
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

/**
 * The files that hold a container's memory and CPU limits, as `docker update` writes them: on v1
 * memory.limit_in_bytes and the CFS quota and period of the cpu hierarchy (mounted with cpuacct
 * or on its own, `cpu` names it either way), on v2 memory.max and cpu.max.
 */
function limitFiles(layout: CgroupLayout, relative: string, keepOpen: boolean): KernelFile[] {
  const file = (path: string) => kernelFile(path, keepOpen, { oneRecord: true });
  if (layout.version === 1) {
    const cpu = join(layout.root, "cpu", relative);
    return [
      file(join(layout.memory, relative, "memory.limit_in_bytes")),
      file(join(cpu, "cpu.cfs_quota_us")),
      file(join(cpu, "cpu.cfs_period_us")),
    ];
  }
  const dir = join(layout.root, relative);
  return [file(join(dir, "memory.max")), file(join(dir, "cpu.max"))];
}

// v1 has both keys; the hierarchical total_inactive_file is the one usage includes.
const V1_CACHE_KEYS = ["total_inactive_file", "inactive_file"] as const;
const V2_CACHE_KEYS = ["inactive_file"] as const;

// Each file is parsed right after it is read: the next read overwrites the bytes.
function readV1(files: Extract<ContainerFiles, { version: 1 }>): CounterResult {
  const cpuTotalNs = readCounter(files.cpu);
  if (cpuTotalNs === undefined) return missing(files.cpu.path);
  const usage = readCounter(files.memUsage);
  const memUsedBytes = usage === undefined ? undefined : readMemUsed(files.memStat, usage, V1_CACHE_KEYS);
  if (memUsedBytes === undefined) return missing(files.memUsage.path);
  let block: BlockTotals | undefined;
  if (files.blkioThrottle !== null) {
    const totals = readBlkioV1(files.blkioCfq, files.blkioThrottle);
    if (totals === "missing") return missing(files.blkioThrottle.path);
    block = totals;
  }
  let pids: number | null = null;
  if (files.pids !== null) {
    const counted = readCounter(files.pids);
    if (counted === undefined) return missing(files.pids.path);
    pids = counted;
  }
  return {
    ok: true,
    cpuTotalNs,
    memUsedBytes,
    blkReadBytes: block?.readBytes ?? null,
    blkWriteBytes: block?.writeBytes ?? null,
    pids,
  };
}

function readV2(files: Extract<ContainerFiles, { version: 2 }>): CounterResult {
  const usageUs = readKeyed(files.cpu, "usage_usec");
  const usage = readCounter(files.memUsage);
  const memUsedBytes = usage === undefined ? undefined : readMemUsed(files.memStat, usage, V2_CACHE_KEYS);
  if (usageUs === undefined || memUsedBytes === undefined) return missing(files.cpu.path);
  const ioLength = files.io?.readBytes();
  const io = ioLength === undefined ? undefined : parseIoStatV2(kernelFileBytes(), ioLength);
  const pids = files.pids === null ? undefined : readCounter(files.pids);
  return {
    ok: true,
    cpuTotalNs: usageUs === null ? null : usageUs * 1000,
    memUsedBytes,
    blkReadBytes: io?.readBytes ?? null,
    blkWriteBytes: io?.writeBytes ?? null,
    pids: pids ?? null,
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
): BlockTotals | undefined | "missing" {
  const cfqLength = cfqFile?.readBytes();
  const length =
    cfqLength !== undefined && blkioHasDevices(kernelFileBytes(), cfqLength)
      ? cfqLength
      : throttleFile.readBytes();
  if (length === undefined) return "missing";
  // Undefined when not of the blkio shape: no figures.
  return parseBlkioV1(kernelFileBytes(), length);
}
