// What the collector benchmark's runtimes share: taking turns tick by tick (so every approach
// meets the same load on this shared machine), the daemons' CPU around each tick, the bare
// cgroup file loops the collector's fast path is held against, and the rows of the report.
import { openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import {
  createSubjects,
  DEFAULT_STREAM_RETENTION,
  ensureStreams,
  type Logger,
  type Subjects,
  streamDefinitions,
} from "@crowsnest/shared";
import { JetStreamAckPublisher, PublishQueue } from "@crowsnest/shared/publishing";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { StatsSink } from "../../../services/collector/src/core/stats-sink.ts";

const CLOCK_TICKS_PER_SECOND = 100;

export interface Phase {
  name: string;
  tickWallMs: number[];
  /** This process's CPU per tick (user + system), ms. */
  tickCpuMs: number[];
  samplesPerTick: number;
  daemonCpuMs: number;
  daemonWallMs: number;
}

/** A container as the bare loops read it: its cgroup directory under each v1 controller, and its PID. */
export interface BenchContainer {
  /** Relative to a controller's hierarchy, e.g. `docker/<id>` or `<namespace>/<id>`. */
  cgroup: string;
  pid: number;
}

/** The files the collector reads for a v1 container, read and parsed as simply as possible. */
export function bareFileReads(containers: readonly BenchContainer[]): void {
  let sink = 0;
  sink += readFileSync("/proc/stat", "utf8").length;
  for (const { cgroup, pid } of containers) {
    const dir = (controller: string) => `/sys/fs/cgroup/${controller}/${cgroup}`;
    sink += Number(readFileSync(`${dir("cpuacct")}/cpuacct.usage`, "utf8"));
    sink += Number(readFileSync(`${dir("memory")}/memory.usage_in_bytes`, "utf8"));
    sink += readFileSync(`${dir("memory")}/memory.stat`, "utf8").length;
    sink += readFileSync(`${dir("blkio")}/blkio.throttle.io_service_bytes`, "utf8").length;
    sink += Number(readFileSync(`${dir("pids")}/pids.current`, "utf8"));
    sink += readFileSync(`/proc/${pid}/net/dev`, "utf8").length;
  }
  if (sink < 0) console.log(sink);
}

/** The same files as bareFileReads, opened once: /proc/stat first, then six per container. */
export function openBenchFiles(containers: readonly BenchContainer[]): number[][] {
  const files = [[openSync("/proc/stat", "r")]];
  for (const { cgroup, pid } of containers) {
    const dir = (controller: string) => `/sys/fs/cgroup/${controller}/${cgroup}`;
    files.push(
      [
        `${dir("cpuacct")}/cpuacct.usage`,
        `${dir("memory")}/memory.usage_in_bytes`,
        `${dir("memory")}/memory.stat`,
        `${dir("blkio")}/blkio.throttle.io_service_bytes`,
        `${dir("pids")}/pids.current`,
        `/proc/${pid}/net/dev`,
      ].map((path) => openSync(path, "r")),
    );
  }
  return files;
}

const keptBuffer = Buffer.allocUnsafe(16 * 1024);

/** Each kept file read again from offset 0 to its end (the kernel writes it afresh), into a string. */
export function bareKeptReads(files: readonly number[][]): void {
  let sink = 0;
  for (const fds of files) {
    for (const fd of fds) {
      let length = 0;
      for (;;) {
        const read = readSync(fd, keptBuffer, length, keptBuffer.length - length, length);
        if (read === 0) break;
        length += read;
      }
      sink += Number.parseInt(keptBuffer.toString("latin1", 0, length), 10) || 0;
    }
  }
  if (sink < 0) console.log(sink);
}

/**
 * One warm-up tick of each approach (first inspects, JIT), then `rounds` rounds of one tick of
 * each in turn: taking turns, every approach meets the same load from the other engineers on
 * this machine, which sequential phases would not. Daemon CPU is read around every tick and
 * summed per approach (its 10 ms resolution averages out over the rounds).
 */
export async function interleaved(
  rounds: number,
  samplesPerTick: number,
  /** A tick may return its own wall time (without what it waited for afterwards). */
  approaches: readonly { name: string; tick: () => unknown }[],
): Promise<Phase[]> {
  for (const approach of approaches) await approach.tick();
  const results = approaches.map(
    (approach): Phase => ({
      name: approach.name,
      tickWallMs: [],
      tickCpuMs: [],
      samplesPerTick,
      daemonCpuMs: 0,
      daemonWallMs: 0,
    }),
  );
  const daemons = daemonPids();
  for (let round = 0; round < rounds; round++) {
    for (const [index, approach] of approaches.entries()) {
      const result = results[index];
      if (!result) continue;
      const daemonBefore = daemonCpuTicks(daemons);
      const cpuBefore = process.cpuUsage();
      const wallBefore = performance.now();
      const ownWallMs = await approach.tick();
      const wallMs = typeof ownWallMs === "number" ? ownWallMs : performance.now() - wallBefore;
      const cpu = process.cpuUsage(cpuBefore);
      result.tickWallMs.push(wallMs);
      result.tickCpuMs.push((cpu.user + cpu.system) / 1000);
      result.daemonWallMs += wallMs;
      result.daemonCpuMs +=
        (ticksSpent(daemonBefore, daemonCpuTicks(daemons)) * 1000) / CLOCK_TICKS_PER_SECOND;
    }
  }
  return results;
}

/** dockerd, containerd and every shim (`containerd-shim-runc-v2`, its comm cut to 15 characters). */
export function daemonPids(): number[] {
  const names = new Set(["dockerd", "containerd", "containerd-shim"]);
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.has(readFileSync(join("/proc", entry, "comm"), "utf8").trim())) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** utime + stime of each process still there, in clock ticks. */
export function daemonCpuTicks(pids: readonly number[]): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const pid of pids) {
    try {
      // Fields after the command name (which may hold spaces), from `state`: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks.set(pid, Number(fields[11]) + Number(fields[12]));
    } catch {
      // A shim that exited: its CPU is lost to the figure, which is why containers are not churned meanwhile.
    }
  }
  return ticks;
}

/**
 * The ticks spent between two readings by the processes in both: a shim of someone else's
 * container that exits meanwhile must not count as negative CPU.
 */
export function ticksSpent(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let spent = 0;
  for (const [pid, ticks] of after) {
    const earlier = before.get(pid);
    if (earlier !== undefined) spent += ticks - earlier;
  }
  return spent;
}

export const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};
export const fixed = (value: number, digits = 3) => Number(value.toFixed(digits));

/** One phase's row of a report: wall time per tick, and CPU per sample of this process and of the daemons. */
export function phaseRow(p: Phase) {
  const samples = p.samplesPerTick * p.tickWallMs.length;
  const nodeMsPerSample = median(p.tickCpuMs) / p.samplesPerTick;
  const daemonMsPerSample = p.daemonCpuMs / samples;
  return {
    approach: p.name,
    ticks: p.tickWallMs.length,
    "tick wall ms (median)": fixed(median(p.tickWallMs), 1),
    "tick wall ms (min–max)": `${fixed(Math.min(...p.tickWallMs), 1)}–${fixed(Math.max(...p.tickWallMs), 1)}`,
    "node CPU ms/sample": fixed(nodeMsPerSample),
    "daemon CPU ms/sample": fixed(daemonMsPerSample),
    "total CPU ms/sample": fixed(nodeMsPerSample + daemonMsPerSample),
    "rss MB (bench process)": fixed(process.memoryUsage().rss / 1048576, 1),
  };
}

/** x / y to two places; infinite when y is not positive. */
export const ratio = (x: number, y: number) => (y > 0 ? fixed(x / y, 2) : Number.POSITIVE_INFINITY);

/** The report's targets table: each label with the ratio of its two figures. */
export function targetRows(targets: readonly (readonly [label: string, x: number, y: number])[]) {
  return targets.map(([target, x, y]) => ({ target, ratio: ratio(x, y) }));
}

/** The publish queue as main.ts configures it, with its acknowledgement tracking (close it after). */
export function benchPublishQueue(nc: NatsConnection, logger: Logger) {
  const acks = new JetStreamAckPublisher({ nc });
  const queue = new PublishQueue({
    js: acks,
    logger,
    maxBuffered: 100_000,
    maxInFlight: 256,
    batchDelayMs: 10,
  });
  return { acks, queue };
}

/** Takes every sample and sends nothing: the collector's cost without publishing. */
export const discardingSink: StatsSink = { publish: () => ({ status: "published" }) };

/**
 * A collector's tick as the benchmark times it: the wall time it returns is the sampling; the CPU
 * measured around it also counts sending the samples and their acknowledgements.
 */
export function timedTick(tick: () => Promise<unknown>, queue: PublishQueue): () => Promise<number> {
  return async () => {
    const startedAt = performance.now();
    await tick();
    const wallMs = performance.now() - startedAt;
    await queue.flush(10_000);
    return wallMs;
  };
}

/** The subjects of a throwaway prefix, with their streams made (delete them with deleteTestStreams). */
export async function benchStreams(nc: NatsConnection, prefix: string, logger: Logger): Promise<Subjects> {
  const subjects = createSubjects(prefix);
  await ensureStreams(
    await jetstreamManager(nc),
    streamDefinitions(subjects, DEFAULT_STREAM_RETENTION),
    logger,
  );
  return subjects;
}
