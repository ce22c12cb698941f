// Samples the host itself from its /proc (the host's, mounted at a configurable root when the
// collector runs in a container): CPU busy share from /proc/stat deltas, memory from
// /proc/meminfo, load averages and uptime; and hands one `hostStatsMessage` per call to the
// publisher. main.ts calls it at every interval on the sampling core's timer (StatsSampler's
// `everyInterval`), which runs it also while a slow runtime holds up the ticks, so a host whose
// engine is down or hung still reports itself; one timer, not two, so the idle collector wakes
// up once per interval.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type HostStatsMessage, type Logger, SCHEMA_VERSION, toTimestamp } from "@crowsnest/shared/agent";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
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

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Reads the four files; a missing or unrecognized one makes the whole reading unusable. */
export function readHostFiles(procRoot: string): HostReadResult {
  const path = (name: string) => join(procRoot, name);
  const statText = read(path("stat"));
  const cpu = statText === undefined ? undefined : parseProcStat(statText);
  if (cpu === undefined) return { ok: false, detail: `${path("stat")} is missing or not a /proc/stat` };

  const meminfoText = read(path("meminfo"));
  const meminfo = meminfoText === undefined ? undefined : parseMeminfo(meminfoText);
  const memTotalBytes = meminfo?.get("MemTotal");
  if (meminfo === undefined || memTotalBytes === undefined) {
    return { ok: false, detail: `${path("meminfo")} is missing or has no MemTotal` };
  }
  // MemAvailable is the kernel's own estimate (since 3.14); before it, free plus page cache is the usual stand-in.
  const memAvailableBytes =
    meminfo.get("MemAvailable") ??
    (meminfo.get("MemFree") ?? 0) + (meminfo.get("Buffers") ?? 0) + (meminfo.get("Cached") ?? 0);

  const loadText = read(path("loadavg"));
  const load = loadText === undefined ? undefined : parseLoadavg(loadText);
  if (load === undefined) return { ok: false, detail: `${path("loadavg")} is missing or malformed` };
  const uptimeText = read(path("uptime"));
  const uptimeS = uptimeText === undefined ? undefined : parseUptime(uptimeText);
  if (uptimeS === undefined) return { ok: false, detail: `${path("uptime")} is missing or malformed` };

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
  #previous: HostReading | undefined;
  #invalidLogged = false;

  constructor(options: HostStatsCollectorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
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
      const result = readHostFiles(this.#options.procRoot);
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
