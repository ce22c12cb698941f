// What a collector tick costs, side by side in one run on 55 busybox containers (50 idle, 5 busy
// loops capped at 0.05 core each so the shared machine stays usable): (a) the collector through
// the Docker API, (b) the collector through cgroup files, (c) a bare loop of parallel one-shot
// dockerode calls, (d) a bare loop reading the same cgroup files with readFileSync, and (d2) one
// reading them as the collector does, through descriptors kept open. For each: wall time per tick,
// CPU per container sample of this process (process.cpuUsage around the tick and the flush of its
// publishes) and of dockerd + containerd + shims (/proc/<pid>/stat around each tick). The
// approaches take turns tick by tick, so all of them meet the same load on this shared machine.
// Then the memory of the real collector and watcher with 100 containers (support/service-memory.ts).
// First, the containerd column (support/containerd-column.ts), when a test containerd is there.
// Measures and prints; asserts nothing. Every container it creates is removed, also on failure.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger, createSubjects, DEFAULT_STREAM_RETENTION, streamDefinitions } from "@crowsnest/shared";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import Docker from "dockerode";
import { StatsPublisher } from "../../services/collector/src/publishing/stats-publisher.ts";
import type { DockerPort } from "../../services/collector/src/runtimes/docker/docker-port.ts";
import { createDockerSocketPort } from "../../services/collector/src/runtimes/docker/docker-socket-port.ts";
import { setUpFileReader } from "../../services/collector/src/runtimes/docker/file-reader-setup.ts";
import { dockerSampler } from "../../services/collector/src/runtimes/docker/fixtures/docker-sampler.ts";
import { type ServiceProcess, startService } from "../support/service-process.ts";
import { containerdColumn } from "./support/containerd-column.ts";
import {
  buildStrippedCopy,
  type MemoryFigures,
  memoryFigures,
  residentUnionMb,
} from "./support/service-memory.ts";
import {
  bareFileReads,
  bareKeptReads,
  benchPublishQueue,
  benchStreams,
  discardingSink,
  fixed,
  interleaved,
  openBenchFiles,
  type Phase,
  phaseRow,
  targetRows,
  timedTick,
} from "./support/tick-phases.ts";

const IMAGE = process.env.CROWSNEST_TEST_WORKLOAD_IMAGE || "crowsnest-test/busybox:1";
const NATS_URL = process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
const LABEL = "dev.crowsnest.bench";
const IDLE = 50;
const BUSY = 5;
const RSS_CONTAINERS = 100;
const API_ROUNDS = 10;
const FILE_ROUNDS = 40;
const RSS_SECONDS = 30;
/**
 * V8 flags proposed for the collector's and watcher's `command` in docker-compose.yml, measured
 * here beside the plain run: a 1 MB young-generation semi-space instead of up to 16 MB (their
 * per-tick garbage is small; a larger nursery only holds dead objects longer), one V8 worker
 * thread instead of one per core, and V8's background work on the main thread (so that one stays idle).
 */
const SMALL_HEAP_FLAGS = ["--max-semi-space-size=1", "--v8-pool-size=1", "--single-threaded"];

export async function run(): Promise<void> {
  const runId = `bench-${Date.now().toString(36)}`;
  await containerdColumn(runId);
  const docker = new Docker();
  const cleanup = async () => {
    const leftovers = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${runId}`] } });
    await forEachBounded(leftovers, 8, async (entry) => {
      await docker
        .getContainer(entry.Id)
        .remove({ force: true })
        .catch(() => undefined);
    });
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await measure(docker, runId);
  } finally {
    await cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

async function measure(docker: Docker, runId: string): Promise<void> {
  console.log(`creating ${IDLE} idle and ${BUSY} busy containers (busy ones capped at 0.05 core)…`);
  // On the default bridge, so that network counters are read too, as on a real host. (Not a
  // network of this run: dockerd 20.10 can keep endpoints of removed containers, and such a
  // network can then not be removed.)
  const network = await startContainers(docker, runId, IDLE, BUSY, "bridge");
  const ids = await benchContainerIds(docker, runId);
  console.log(`${ids.size} containers running (network: ${network})`);

  const real = createDockerSocketPort({ socketPath: "/var/run/docker.sock", maxSockets: 64 });
  // Only this run's containers: everyone's containers on this dockerd would make the figures noise.
  const port: DockerPort = {
    ...real,
    async listContainers(signal) {
      const listed = (await real.listContainers(signal)) as { Id: string }[];
      return listed.filter((entry) => ids.has(entry.Id));
    },
  };
  const quiet = createLogger({ service: "collector", level: "error" });
  const nc = await connect({ servers: NATS_URL, name: `crowsnest-${runId}` });
  const subjects = await benchStreams(nc, runId, quiet);
  const phases: Phase[] = [];
  try {
    const files = setUpFileReader({
      source: "auto",
      cgroupRoot: "/sys/fs/cgroup",
      procRoot: "/proc",
      logger: quiet,
    });
    if (files === undefined) throw new Error("cgroup files not readable here; nothing to compare");
    const collectorWith = (variant: { files: boolean; listMaxAgeMs?: number; publish?: boolean }) => {
      const { acks, queue } = benchPublishQueue(nc, quiet);
      const collector = dockerSampler({
        docker: port,
        sink: variant.publish === false ? discardingSink : new StatsPublisher({ queue, subjects }),
        host: runId,
        intervalMs: 60_000,
        // Every container in one round, like (c): one-shot calls wait for dockerd's 1 s cycle together.
        concurrency: 64,
        dockerTimeoutMs: 10_000,
        files: variant.files ? files : undefined,
        listMaxAgeMs: variant.listMaxAgeMs ?? 60_000,
        logger: quiet,
      });
      return {
        tick: timedTick(() => collector.tick(), queue),
        close: () => acks.close(),
      };
    };

    // A variable, not a literal, passes dockerode's typings (which lack one-shot) without a cast.
    const oneShot = { stream: false, "one-shot": true } as const;
    const api = collectorWith({ files: false });
    const apiUnpublished = collectorWith({ files: false, publish: false });
    phases.push(
      ...(await interleaved(API_ROUNDS, ids.size, [
        { name: "(a) collector, Docker API", tick: api.tick },
        { name: "(a2) same, samples not published", tick: apiUnpublished.tick },
        {
          name: "(c) bare parallel one-shot calls",
          tick: async () => {
            await Promise.all([...ids].map((id) => docker.getContainer(id).stats(oneShot)));
          },
        },
      ])),
    );
    api.close();
    apiUnpublished.close();

    const pids = await containerPids(docker, ids);
    const benchContainers = [...ids].map((id) => ({ cgroup: `docker/${id}`, pid: pids.get(id) ?? 0 }));
    const kept = openBenchFiles(benchContainers);
    const viaFiles = collectorWith({ files: true });
    const listing = collectorWith({ files: true, listMaxAgeMs: 0 });
    const unpublished = collectorWith({ files: true, publish: false });
    phases.push(
      ...(await interleaved(FILE_ROUNDS, ids.size, [
        { name: "(b) collector, cgroup files", tick: viaFiles.tick },
        { name: "(b1) same, container list every tick", tick: listing.tick },
        { name: "(b2) same, samples not published", tick: unpublished.tick },
        { name: "(d) bare cgroup file reads", tick: () => bareFileReads(benchContainers) },
        { name: "(d2) same files, kept open (pread)", tick: () => bareKeptReads(kept) },
      ])),
    );
    for (const collector of [viaFiles, listing, unpublished]) collector.close();
    for (const fd of kept.flat()) closeSync(fd);
  } finally {
    real.close();
    const jsm = await jetstreamManager(nc);
    for (const { config } of streamDefinitions(subjects, DEFAULT_STREAM_RETENTION)) {
      await jsm.streams.delete(config.name).catch(() => undefined);
    }
    await nc.close();
  }
  report(phases);

  console.log(`\ntopping up to ${RSS_CONTAINERS} containers for the RSS run…`);
  // Without a network: the services' memory does not depend on it, and dockerd has less to clean up.
  await startContainers(docker, runId, RSS_CONTAINERS - IDLE - BUSY, 0, "none");
  await measureServiceRss(runId, (await benchContainerIds(docker, runId)).size);
}

/** Creates and starts containers; returns the network mode that worked (bridge, else none). */
async function startContainers(
  docker: Docker,
  runId: string,
  idle: number,
  busy: number,
  network: string,
): Promise<string> {
  let mode = network;
  const specs = [
    ...Array.from({ length: idle }, () => ({ script: "sleep 3600", nanoCpus: 0 })),
    ...Array.from({ length: busy }, () => ({ script: "while :; do :; done", nanoCpus: 50_000_000 })),
  ];
  const startOne = async (spec: { script: string; nanoCpus: number }, networkMode: string) => {
    const container = await docker.createContainer({
      Image: IMAGE,
      Cmd: ["/bin/sh", "-c", spec.script],
      Labels: { [LABEL]: runId, "dev.crowsnest.test": "1" },
      HostConfig: { NetworkMode: networkMode, ...(spec.nanoCpus > 0 ? { NanoCpus: spec.nanoCpus } : {}) },
    });
    await container.start();
  };
  const [first, ...rest] = specs;
  if (first) {
    try {
      await startOne(first, mode);
    } catch (error) {
      // A dockerd whose bridge is unusable still runs containers without a network.
      console.log(`network ${mode} unusable (${(error as Error).message.slice(0, 120)}); using none`);
      mode = "none";
      await startOne(first, mode);
    }
  }
  await forEachBounded(rest, 6, (spec) => startOne(spec, mode));
  return mode;
}

async function benchContainerIds(docker: Docker, runId: string): Promise<Set<string>> {
  const listed = await docker.listContainers({ filters: { label: [`${LABEL}=${runId}`] } });
  return new Set(listed.map((entry) => entry.Id));
}

export async function containerPids(docker: Docker, ids: ReadonlySet<string>): Promise<Map<string, number>> {
  const pids = new Map<string, number>();
  for (const id of ids) {
    const inspect = (await docker.getContainer(id).inspect()) as { State: { Pid: number } };
    pids.set(id, inspect.State.Pid);
  }
  return pids;
}

function report(phases: readonly Phase[]): void {
  const rows = phases.map(phaseRow);
  console.log(
    `\ncollector tick cost, ${phases[0]?.samplesPerTick ?? 0} containers (daemon = dockerd + containerd + shims; medians per tick, daemon summed over all ticks)`,
  );
  console.table(rows);
  const byName = (prefix: string) => rows.find((row) => row.approach.startsWith(prefix));
  const [a, b, c, d, d2] = ["(a)", "(b)", "(c)", "(d)", "(d2)"].map((prefix) => byName(`${prefix} `));
  if (!a || !b || !c || !d || !d2) return;
  const cpu = "node CPU ms/sample";
  const total = "total CPU ms/sample";
  const wall = "tick wall ms (median)";
  console.table(
    targetRows([
      ["(a) tick ≤ 1.2× (c)", a[wall], c[wall]],
      ["(a) node CPU/sample ≤ 1.5× (c)", a[cpu], c[cpu]],
      ["(b) node CPU/sample ≤ 1.5× (d)", b[cpu], d[cpu]],
      ["(b) node CPU/sample vs (d2), same read technique (no target)", b[cpu], d2[cpu]],
      ["(a)/(b) total CPU/sample incl. daemons ≥ 25", a[total], b[total]],
    ]),
  );
}

interface MemoryVariant {
  label: string;
  /** The two processes' PIDs, once they run. */
  pids: () => (number | undefined)[];
}

/**
 * Memory of the real collector and watcher with `containers` containers on the host, three ways
 * at once: their src/main.ts through test/support/service-process.ts (Node strips the types of
 * every module as it loads it, which costs memory of its own), the same sources as plain
 * JavaScript (what the image runs), and that again with SMALL_HEAP_FLAGS. Per process: VmRSS, PSS
 * and private memory; per pair, the resident pages of both with every shared page counted once
 * (the `node` binary's code is shared by the two, and by every other Node process: VmRSS counts
 * it twice, PSS splits it among all Node processes on the machine).
 */
async function measureServiceRss(runId: string, containers: number): Promise<void> {
  const envFor = (prefix: string) => ({
    CROWSNEST_NATS_URL: NATS_URL,
    CROWSNEST_SUBJECT_PREFIX: prefix,
    CROWSNEST_HOST_NAME: prefix,
    CROWSNEST_COLLECT_INTERVAL_MS: "2000",
    CROWSNEST_LOG_LEVEL: "warn",
  });
  const prefixes = [`${runId}-src`, `${runId}-js`, `${runId}-jsflags`];
  const [sourcePrefix = "", builtPrefix = "", flaggedPrefix = ""] = prefixes;
  const built = buildStrippedCopy();
  const services: ServiceProcess[] = [
    startService("collector", envFor(sourcePrefix)),
    startService("watcher", envFor(sourcePrefix)),
  ];
  const runBuilt = (prefix: string, flags: readonly string[]) =>
    (["collector", "watcher"] as const).map((name) =>
      spawn(process.execPath, [...flags, join(built.dir, name, "src", "main.js")], {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...envFor(prefix) },
        stdio: ["ignore", "ignore", "inherit"],
      }),
    );
  const plain = runBuilt(builtPrefix, []);
  const flagged = runBuilt(flaggedPrefix, SMALL_HEAP_FLAGS);
  const variants: MemoryVariant[] = [
    {
      label: "src/main.ts, types stripped at load",
      pids: () => [servicePid("collector", sourcePrefix), servicePid("watcher", sourcePrefix)],
    },
    { label: "as the image runs (plain JavaScript)", pids: () => plain.map((child) => child.pid) },
    {
      label: `as the image runs, ${SMALL_HEAP_FLAGS.join(" ")}`,
      pids: () => flagged.map((child) => child.pid),
    },
  ];
  const last = new Map<string, { figures: (MemoryFigures | undefined)[]; unionMb: number | undefined }>();
  const peakRss = new Map<string, number>();
  try {
    for (let second = 0; second < RSS_SECONDS; second++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      for (const variant of variants) {
        const pids = variant.pids();
        const figures = pids.map((pid) => (pid === undefined ? undefined : memoryFigures(pid)));
        const running = pids.filter((pid): pid is number => pid !== undefined);
        const unionMb = running.length === 2 ? residentUnionMb(running) : undefined;
        last.set(variant.label, { figures, unionMb });
        const rss = figures.reduce((total, f) => total + (f?.rssMb ?? 0), 0);
        peakRss.set(variant.label, Math.max(peakRss.get(variant.label) ?? 0, rss));
      }
    }
  } finally {
    for (const service of services) await service.stop();
    for (const child of [...plain, ...flagged]) {
      if (child.exitCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }
    }
    built.cleanup();
    const nc: NatsConnection = await connect({ servers: NATS_URL });
    const jsm = await jetstreamManager(nc);
    for (const prefix of prefixes) {
      for (const { config } of streamDefinitions(createSubjects(prefix), DEFAULT_STREAM_RETENTION)) {
        await jsm.streams.delete(config.name).catch(() => undefined);
      }
    }
    await nc.close();
  }
  console.log(
    `\nmemory of the real services, ${containers} bench containers (and whatever else runs on this dockerd), after ${RSS_SECONDS} s, collect interval 2 s`,
  );
  const rows = [...last.entries()].flatMap(([label, { figures }]) =>
    figures.map((f, index) => ({
      service: `${index === 0 ? "collector" : "watcher"}, ${label}`,
      "VmRSS MB": fixed(f?.rssMb ?? Number.NaN, 1),
      "PSS MB": fixed(f?.pssMb ?? Number.NaN, 1),
      "private MB": fixed(f?.privateMb ?? Number.NaN, 1),
    })),
  );
  console.table(rows);
  const pairs = [...last.entries()].map(([label, { figures, unionMb }]) => {
    const sum = (pick: (f: MemoryFigures) => number) =>
      fixed(
        figures.reduce((total, f) => total + (f === undefined ? Number.NaN : pick(f)), 0),
        1,
      );
    return {
      "collector + watcher": label,
      "VmRSS MB": sum((f) => f.rssMb),
      "VmRSS MB peak": fixed(peakRss.get(label) ?? Number.NaN, 1),
      "PSS MB": sum((f) => f.pssMb),
      "private MB": sum((f) => f.privateMb),
      "resident, shared pages once MB": unionMb === undefined ? "n/a (needs root)" : fixed(unionMb, 1),
    };
  });
  console.table(pairs);
  console.log("target: collector + watcher ≤ 80 MB (judged on the resident pages, shared pages once)");
  for (const service of services) {
    const errors = service.logs.filter((line) => line.level === "error" || line.level === "fatal");
    if (errors.length > 0) console.log(`${service.name} logged errors:`, errors.slice(0, 3));
  }
}

/** The PID of this run's service: its command line names its main.ts, its environment our prefix. */
function servicePid(name: string, prefix: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(join("/proc", entry, "cmdline"), "utf8");
      if (!cmdline.includes(`services/${name}/src/main.ts`)) continue;
      const environ = readFileSync(join("/proc", entry, "environ"), "utf8");
      if (environ.split("\0").includes(`CROWSNEST_SUBJECT_PREFIX=${prefix}`)) return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  return undefined;
}
