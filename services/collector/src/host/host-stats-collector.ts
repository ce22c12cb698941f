// Samples the host itself from its /proc (the host's, mounted at a configurable root when the
// collector runs in a container): CPU busy share from /proc/stat deltas, memory from
// /proc/meminfo, load averages and uptime; and hands one `hostStatsMessage` per call to the
// publisher. main.ts calls it at every interval on the sampling core's timer (StatsSampler's
// `everyInterval`), which runs it also while a slow runtime holds up the ticks, so a host whose
// engine is down or hung still reports itself; one timer, not two, so the idle collector wakes
// up once per interval. The four files are kept open and read with one pread each
// (cgroup/kernel-file.ts), as the containers' files are: opening, reading to the end and closing
// each of them cost five system calls every interval.
import { join } from "node:path";
import { type HostStatsMessage, type Logger, SCHEMA_VERSION, toTimestamp } from "@crowsnest/shared/agent";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import { type KernelFile, kernelFile, regeneratesOnRead } from "../cgroup/kernel-file.ts";
import {
  hostCpuTicks,
  parseLoadavg,
  parseMeminfo,
  parseProcStat,
  parseUptime,
} from "../procfs/proc-parsers.ts";

/** The subset of HostStatsPublisher the collector needs. */
export interface HostStatsSink {
  publish(
    message: HostStatsMessage,
  ): { readonly status: "queued" } | { readonly status: "invalid"; readonly detail: string };
}

export interface HostStatsCollectorOptions {
  /** Where the host's /proc is visible (`/proc`, or `/host/proc` in a container). */
  procRoot: string;
  host: string;
  sink: HostStatsSink;
  logger: Logger;
  now?: () => number;
}

/** One reading of the host's files, before any delta. */
export interface HostReading {
  cpu: { busy: number; total: number };
  onlineCpus: number;
  memTotalBytes: number;
  memAvailableBytes: number;
  load: [number, number, number];
  uptimeS: number;
}

export type HostReadResult = { ok: true; reading: HostReading } | { ok: false; detail: string };

/** The host's four files under a /proc, each opened once (every one is a single record: kernel-file.ts). */
export class HostFiles {
  readonly #stat: KernelFile;
  readonly #meminfo: KernelFile;
  readonly #loadavg: KernelFile;
  readonly #uptime: KernelFile;

  constructor(procRoot: string) {
    const keepOpen = regeneratesOnRead(procRoot);
    const file = (name: string) => kernelFile(join(procRoot, name), keepOpen, { oneRecord: true });
    this.#stat = file("stat");
    this.#meminfo = file("meminfo");
    this.#loadavg = file("loadavg");
    this.#uptime = file("uptime");
  }

  /** Reads the four files; a missing or unrecognized one makes the whole reading unusable. */
  read(): HostReadResult {
    return readHostFiles(this.#stat, this.#meminfo, this.#loadavg, this.#uptime);
  }
}

function readHostFiles(
  statFile: KernelFile,
  meminfoFile: KernelFile,
  loadavgFile: KernelFile,
  uptimeFile: KernelFile,
): HostReadResult {
  const statText = statFile.read();
  const cpu = statText === undefined ? undefined : parseProcStat(statText);
  if (cpu === undefined) return { ok: false, detail: `${statFile.path} is missing or not a /proc/stat` };

  const meminfoText = meminfoFile.read();
  const meminfo = meminfoText === undefined ? undefined : parseMeminfo(meminfoText);
  const memTotalBytes = meminfo?.get("MemTotal");
  if (meminfo === undefined || memTotalBytes === undefined) {
    return { ok: false, detail: `${meminfoFile.path} is missing or has no MemTotal` };
  }
  // MemAvailable is the kernel's own estimate (since 3.14); before it, free plus page cache is the usual stand-in.
  const memAvailableBytes =
    meminfo.get("MemAvailable") ??
    (meminfo.get("MemFree") ?? 0) + (meminfo.get("Buffers") ?? 0) + (meminfo.get("Cached") ?? 0);

  const loadText = loadavgFile.read();
  const load = loadText === undefined ? undefined : parseLoadavg(loadText);
  if (load === undefined) return { ok: false, detail: `${loadavgFile.path} is missing or malformed` };
  const uptimeText = uptimeFile.read();
  const uptimeS = uptimeText === undefined ? undefined : parseUptime(uptimeText);
  if (uptimeS === undefined) return { ok: false, detail: `${uptimeFile.path} is missing or malformed` };

  return {
    ok: true,
    reading: {
      cpu: hostCpuTicks(cpu),
      onlineCpus: cpu.onlineCpus,
      memTotalBytes,
      memAvailableBytes: Math.min(memAvailableBytes, memTotalBytes),
      load,
      uptimeS,
    },
  };
}

/** The busy share of all CPUs between two readings, 0–100; null when no CPU time passed or a counter went back. */
export function hostCpuPercent(previous: HostReading | undefined, reading: HostReading): number | null {
  if (previous === undefined) return null;
  const totalDelta = reading.cpu.total - previous.cpu.total;
  const busyDelta = reading.cpu.busy - previous.cpu.busy;
  if (totalDelta <= 0 || busyDelta < 0) return null;
  return Math.min(100, (busyDelta / totalDelta) * 100);
}

export function buildHostStatsMessage(
  host: string,
  tsMs: number,
  reading: HostReading,
  previous: HostReading | undefined,
): HostStatsMessage {
  return {
    v: SCHEMA_VERSION,
    host,
    ts: toTimestamp(new Date(tsMs)),
    cpu_percent: hostCpuPercent(previous, reading),
    online_cpus: reading.onlineCpus,
    mem_total: reading.memTotalBytes,
    mem_used: reading.memTotalBytes - reading.memAvailableBytes,
    mem_available: reading.memAvailableBytes,
    load_1: reading.load[0],
    load_5: reading.load[1],
    load_15: reading.load[2],
    uptime_s: reading.uptimeS,
  };
}

export class HostStatsCollector {
  readonly #options: HostStatsCollectorOptions;
  readonly #now: () => number;
  readonly #unreadable: OutageLog;
  readonly #files: HostFiles;
  #previous: HostReading | undefined;
  #invalidLogged = false;

  constructor(options: HostStatsCollectorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#files = new HostFiles(options.procRoot);
    this.#unreadable = new OutageLog({
      logger: options.logger,
      failureMessage: "cannot read the host's stats; no host samples until the files are readable",
      recoveryMessage: "host stats readable again",
    });
  }

  /** One sample, handed to the sink; returns it (undefined when the files could not be read). Never throws. */
  sample(): HostStatsMessage | undefined {
    try {
      const tsMs = this.#now();
      const result = this.#files.read();
      if (!result.ok) {
        this.#unreadable.failed({ detail: result.detail, proc_root: this.#options.procRoot });
        return undefined;
      }
      this.#unreadable.succeeded();
      const message = buildHostStatsMessage(this.#options.host, tsMs, result.reading, this.#previous);
      this.#previous = result.reading;
      const published = this.#options.sink.publish(message);
      if (published.status === "invalid" && !this.#invalidLogged) {
        this.#invalidLogged = true;
        this.#options.logger.warn(
          { detail: published.detail },
          "host sample failed its schema; not published (logged once)",
        );
      }
      return message;
    } catch (error) {
      // Nothing above should throw; a bug here must not stop the sampling core's timer.
      this.#options.logger.error({ err: error }, "host sample failed unexpectedly");
      return undefined;
    }
  }
}
