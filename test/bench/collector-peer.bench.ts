// The collector against its peer, Netdata, on the same containers (issue #22): 50 idle and 3
// busy busybox containers, each tool sampling them at 1 s and then at 10 s, each in a cgroup of
// its own whose CPU account is read around every measured window. Beside them, in the
// benchmark's own process, the bare loops of collector.bench.ts at the same interval: (c) one-shot
// Docker API calls (with dockerd's CPU), (d) readFileSync of the same cgroup files, (d2) the same
// files kept open: the floors of the two ways to read a container.
//
// Both tools run side by side through a phase and every window measures both: they then meet
// the same load from whatever else runs on the machine by construction (alternating windows only
// approximate that), and each uses a few percent of a core, too little to slow the other.
// A window during which any container on the host started or stopped is discarded (discovering a
// container costs each tool more than sampling it; when every window is, the figures are those
// windows', marked "all disturbed"); what a new container costs each tool is
// measured on its own at the end of each phase, from 5 containers started together.
//
// The collector runs as docker-compose.yml runs it (its tree's image build: this tree's bundle,
// docker/bundle-agents.ts; compose's Node flags; CROWSNEST_STATS_SOURCE=auto) and its samples are
// counted on the bus; Netdata's are its charted containers times the window over its
// interval. Netdata is optional: when it is not installed the benchmark says so and measures the
// rest (CI's prepare step installs Debian's netdata-core). Needs root (cgroups).
//
// CROWSNEST_BENCH_PEER_WINDOW_S (default 120) and CROWSNEST_BENCH_PEER_ROUNDS (default 3) set the
// windows per interval; shorter ones check the benchmark works but average less of the load away.
// CROWSNEST_BENCH_PEER_WARM_UP_TICKS (default 30) intervals pass after both tools cover every
// container and before the first window, so that the collector is measured past its JIT warm-up
// (5 minutes at 10 s).
// CROWSNEST_BENCH_PEER_INTERVALS (default "1,10") lists the intervals to measure, in seconds,
// comma-separated: "10" measures the 10 s phase alone.
// CROWSNEST_BENCH_BASELINE names another checkout (a git worktree with its dependencies installed):
// its collector then runs beside this tree's, on the same containers in every window, each in a
// cgroup of its own, for a before/after comparison that meets the same load. It may name this
// checkout itself (e.g. "."), to compare Node flags on the same code:
// CROWSNEST_BENCH_NODE_FLAGS and CROWSNEST_BENCH_BASELINE_NODE_FLAGS (space-separated) are added
// after docker-compose.yml's flags for this tree's collector and the baseline's respectively, e.g.
// CROWSNEST_BENCH_BASELINE=. CROWSNEST_BENCH_NODE_FLAGS=--no-memory-reducer.
// CROWSNEST_BENCH_PEER_STDOUT_DIR: each collector's standard output (otherwise dropped) goes to
// <dir>/<interval s>s-<collector|baseline>.log there, e.g. V8's lines under --trace-gc.
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createSubjects, DEFAULT_STREAM_RETENTION, streamDefinitions } from "@crowsnest/shared";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import Docker from "dockerode";
import { parse } from "yaml";
import { containerPids } from "./collector.bench.ts";
import { type CgroupVersion, CpuCgroup, cgroupVersion } from "./support/cpu-cgroup.ts";
import { findNetdata, netdataCoverage, prepareNetdata } from "./support/netdata-peer.ts";
import { benchCollectorEnv, buildAgentsAsImage } from "./support/service-memory.ts";
import {
  bareFileReads,
  bareKeptReads,
  daemonCpuTicks,
  daemonPids,
  openBenchFiles,
  ticksSpent,
} from "./support/tick-phases.ts";

const IMAGE = process.env.CROWSNEST_TEST_WORKLOAD_IMAGE || "crowsnest-test/busybox:1";
const NATS_URL = process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
const LABEL = "dev.crowsnest.bench";
const IDLE = 50;
const BUSY = 3;
/** Started together at the end of each phase, for the cost of a new container. */
const NEW_PER_PHASE = 5;
const INTERVALS_MS = (process.env.CROWSNEST_BENCH_PEER_INTERVALS || "1,10")
  .split(",")
  .map((seconds) => Math.round(Number(seconds) * 1000));
if (INTERVALS_MS.some((ms) => !(ms > 0)))
  throw new Error(
    `CROWSNEST_BENCH_PEER_INTERVALS: not seconds above 0: ${process.env.CROWSNEST_BENCH_PEER_INTERVALS}`,
  );
const WINDOW_S = Number(process.env.CROWSNEST_BENCH_PEER_WINDOW_S || 120);
const ROUNDS = Number(process.env.CROWSNEST_BENCH_PEER_ROUNDS || 3);
const WARM_UP_TICKS = Number(process.env.CROWSNEST_BENCH_PEER_WARM_UP_TICKS || 30);
const COVERAGE_TIMEOUT_MS = 180_000;
const CLOCK_TICKS_PER_SECOND = 100;
const TARGET_RATIO = 0.8;
const BASELINE = process.env.CROWSNEST_BENCH_BASELINE || undefined;
const REPO = fileURLToPath(new URL("../..", import.meta.url));
/** The baseline is this checkout: its build is this tree's, only its Node flags differ. */
const BASELINE_IS_THIS_TREE = BASELINE !== undefined && resolve(BASELINE) === resolve(REPO);
const nodeFlags = (name: string) => (process.env[name] ?? "").split(/\s+/).filter((flag) => flag !== "");
const EXTRA_FLAGS: Record<"collector" | "baseline", string[]> = {
  collector: nodeFlags("CROWSNEST_BENCH_NODE_FLAGS"),
  baseline: nodeFlags("CROWSNEST_BENCH_BASELINE_NODE_FLAGS"),
};
const STDOUT_DIR = process.env.CROWSNEST_BENCH_PEER_STDOUT_DIR || undefined;

type Tool = "netdata" | "collector" | "baseline";
type CollectorTool = Exclude<Tool, "netdata">;
type BareLoop = "(c)" | "(d)" | "(d2)";

interface WindowFigures {
  seconds: number;
  cpuMs: Record<Tool, number>;
  samples: Record<Tool, number>;
  rssMb: Record<Tool, number>;
}

interface PhaseResult {
  intervalMs: number;
  windows: WindowFigures[];
  discarded: number;
  /** Every window was disturbed: the figures are from those, and say so. */
  disturbedOnly: boolean;
  /** CPU per container-sample of each bare loop's ticks in the windows, ms. */
  bare: Record<BareLoop, number[]>;
  /** Extra CPU per new container, ms. */
  perNewContainerMs: Partial<Record<Tool, number>>;
  netdataValuesPerContainer: number | undefined;
  netdataMissing: string | undefined;
}

interface RunningTool {
  cgroup: CpuCgroup;
  child: ChildProcess;
  /** Netdata's web server, asked which containers it charts. */
  port?: number;
  cleanup?: () => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
};
const fixed = (value: number, digits = 3) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : "n/a");

export async function run(): Promise<void> {
  const version = cgroupVersion();
  if (version === undefined) {
    console.log(
      "no cgroup v1 cpuacct or v2 hierarchy at /sys/fs/cgroup: nothing to measure the tools in; skipped",
    );
    return;
  }
  const netdata = findNetdata();
  if (netdata === undefined) {
    console.log(
      "netdata is not installed (apt-get install --no-install-recommends netdata-core): the Netdata column is skipped",
    );
  }
  const runId = `peer-${Date.now().toString(36)}`;
  try {
    new CpuCgroup(`crowsnest-bench-${runId}-probe`, version).remove();
  } catch (error) {
    console.log(`cannot create a cgroup (${(error as Error).message}); run as root. Skipped`);
    return;
  }
  const docker = new Docker();
  // Each collector as its tree's image runs it (this tree's: the bundle), not its sources.
  const built = await buildAgentsAsImage(REPO);
  const baselineBuilt =
    BASELINE === undefined || BASELINE_IS_THIS_TREE ? undefined : await buildAgentsAsImage(resolve(BASELINE));
  if (BASELINE === undefined) console.log("CROWSNEST_BENCH_BASELINE unset: no baseline collector beside");
  const nc = await connect({ servers: NATS_URL, name: `crowsnest-${runId}` });
  const cleanup = async () => {
    const leftovers = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${runId}`] } });
    await forEachBounded(leftovers, 8, (entry) =>
      docker
        .getContainer(entry.Id)
        .remove({ force: true })
        .catch(() => undefined),
    );
  };
  const onSignal = () => {
    // The tools first: a collector or Netdata left running would go on costing the machine.
    void Promise.allSettled([...liveTools].map((tool) => tool.cgroup.stop(tool.child, 2000)))
      .then(cleanup)
      .finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const results: PhaseResult[] = [];
  try {
    console.log(
      `creating ${IDLE} idle and ${BUSY} busy containers (busy ones capped at 0.05 core), and ${NEW_PER_PHASE} per interval to start later…`,
    );
    const steady = await createContainers(docker, runId, IDLE, BUSY);
    const later = INTERVALS_MS.map(() => createContainers(docker, runId, NEW_PER_PHASE, 0));
    const laterIds = await Promise.all(later);
    await forEachBounded(steady, 6, (id) => docker.getContainer(id).start());
    const everyId = [...steady, ...laterIds.flat()];
    let running = [...steady];
    for (const [index, intervalMs] of INTERVALS_MS.entries()) {
      const newIds = laterIds[index] ?? [];
      results.push(
        await measurePhase({
          docker,
          nc,
          runId,
          version,
          netdata,
          collectorEntry: built.entry("collector"),
          baselineEntry: BASELINE_IS_THIS_TREE ? built.entry("collector") : baselineBuilt?.entry("collector"),
          intervalMs,
          running,
          newIds,
          everyId,
        }),
      );
      running = [...running, ...newIds];
    }
  } finally {
    await cleanup();
    built.cleanup();
    baselineBuilt?.cleanup();
    const jsm = await jetstreamManager(nc);
    for (const intervalMs of INTERVALS_MS) {
      for (const prefix of [`${runId}-${intervalMs}`, `${runId}-${intervalMs}-base`]) {
        for (const { config } of streamDefinitions(createSubjects(prefix), DEFAULT_STREAM_RETENTION)) {
          await jsm.streams.delete(config.name).catch(() => undefined);
        }
      }
    }
    await nc.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  report(results);
}

/** The Node flags docker-compose.yml runs the collector with (its command between `node` and the script). */
function composeNodeFlags(): string[] {
  const compose = parse(readFileSync(new URL("../../docker-compose.yml", import.meta.url), "utf8"), {
    merge: true,
  }) as { services?: { collector?: { command?: unknown } } };
  const command = compose.services?.collector?.command;
  if (!Array.isArray(command) || command[0] !== "node")
    throw new Error("docker-compose.yml: no `node …` command for the collector");
  return command.slice(1, -1).map(String);
}

/** Creates (and does not start) busybox containers; returns their ids. */
async function createContainers(
  docker: Docker,
  runId: string,
  idle: number,
  busy: number,
): Promise<string[]> {
  const specs = [
    ...Array.from({ length: idle }, () => ({ script: "sleep 36000", nanoCpus: 0 })),
    ...Array.from({ length: busy }, () => ({ script: "while :; do :; done", nanoCpus: 50_000_000 })),
  ];
  const ids: string[] = [];
  await forEachBounded(specs, 6, async (spec) => {
    const container = await docker.createContainer({
      Image: IMAGE,
      Cmd: ["/bin/sh", "-c", spec.script],
      Labels: { [LABEL]: runId, "dev.crowsnest.test": "1" },
      HostConfig: { NetworkMode: "bridge", ...(spec.nanoCpus > 0 ? { NanoCpus: spec.nanoCpus } : {}) },
    });
    ids.push(container.id);
  });
  return ids;
}

/** Every running container on the host, ours or not: a window in which this set changes is discarded. */
async function runningIds(docker: Docker): Promise<string> {
  const listed = await docker.listContainers();
  return listed
    .map((entry) => entry.Id)
    .sort()
    .join(",");
}

async function measurePhase(options: {
  docker: Docker;
  nc: NatsConnection;
  runId: string;
  version: CgroupVersion;
  netdata: string | undefined;
  collectorEntry: string;
  /** The baseline checkout's collector as its image ran it, when there is one. */
  baselineEntry: string | undefined;
  intervalMs: number;
  running: readonly string[];
  newIds: readonly string[];
  everyId: readonly string[];
}): Promise<PhaseResult> {
  const { docker, intervalMs, running, newIds } = options;
  const intervalS = intervalMs / 1000;
  const windowS = Math.max(intervalS, Math.round(WINDOW_S / intervalS) * intervalS);
  const prefix = `${options.runId}-${intervalMs}`;
  const result: PhaseResult = {
    intervalMs,
    windows: [],
    discarded: 0,
    disturbedOnly: false,
    bare: { "(c)": [], "(d)": [], "(d2)": [] },
    perNewContainerMs: {},
    netdataValuesPerContainer: undefined,
    netdataMissing: options.netdata === undefined ? "not installed" : undefined,
  };
  const collectors: Partial<Record<CollectorTool, string>> = { collector: options.collectorEntry };
  if (options.baselineEntry !== undefined) collectors.baseline = options.baselineEntry;
  console.log(
    `\n${intervalS} s interval: starting the collector${collectors.baseline ? ", the baseline collector" : ""}${options.netdata ? " and Netdata" : ""}…`,
  );

  // Each collector's samples, counted (and their containers noted) as the bus delivers them.
  const published: Record<CollectorTool, { samples: number; seen: Set<string> }> = {
    collector: { samples: 0, seen: new Set() },
    baseline: { samples: 0, seen: new Set() },
  };
  const seen = published.collector.seen;
  const subscriptions = Object.keys(collectors).map((name) => {
    const counted = published[name as CollectorTool];
    return options.nc.subscribe(createSubjects(collectorPrefix(prefix, name as CollectorTool)).all("stats"), {
      callback: (_error, msg) => {
        counted.samples += 1;
        const id = (msg.json() as { container?: { external_id?: string } }).container?.external_id;
        if (id !== undefined) counted.seen.add(id);
      },
    });
  });
  const tools: Partial<Record<Tool, RunningTool>> = {};
  const kept: number[][] = [];
  try {
    for (const [name, entry] of Object.entries(collectors) as [CollectorTool, string][]) {
      const cgroup = new CpuCgroup(`crowsnest-bench-${prefix}-${name}`, options.version);
      const toolPrefix = collectorPrefix(prefix, name);
      const stdout =
        STDOUT_DIR === undefined ? undefined : openSync(join(STDOUT_DIR, `${intervalS}s-${name}.log`), "w");
      tools[name] = {
        cgroup,
        child: cgroup.spawn(
          process.execPath,
          [...composeNodeFlags(), ...EXTRA_FLAGS[name], entry],
          { ...benchCollectorEnv(NATS_URL, toolPrefix, intervalMs), CROWSNEST_STATS_SOURCE: "auto" },
          false,
          stdout,
        ),
      };
      // The child holds its own copy of the descriptor.
      if (stdout !== undefined) closeSync(stdout);
    }
    if (options.netdata !== undefined) {
      const setup = await prepareNetdata({
        binary: options.netdata,
        intervalS,
        containerIds: options.everyId,
        cgroupVersion: options.version,
      });
      const netdataCgroup = new CpuCgroup(`crowsnest-bench-${prefix}-netdata`, options.version);
      tools.netdata = {
        cgroup: netdataCgroup,
        // Netdata says what it does at start on standard error; its errors go to its log file.
        child: netdataCgroup.spawn(setup.binary, setup.args, setup.env, true),
        port: setup.port,
        cleanup: setup.cleanup,
      };
    }
    for (const tool of Object.values(tools)) liveTools.add(tool);
    const netdataPort = tools.netdata?.port;

    // Every tool must cover every container before anything is measured.
    const coveredAt = await waitForCoverage(running, seen, netdataPort, intervalS);
    if (tools.baseline !== undefined)
      await waitForCoverage(running, published.baseline.seen, undefined, intervalS);
    if (netdataPort !== undefined && !coveredAt.netdata) {
      result.netdataMissing = `did not chart every container within ${COVERAGE_TIMEOUT_MS / 1000} s`;
      await stopTool(tools, "netdata");
    }
    if (netdataPort !== undefined && coveredAt.netdata) {
      result.netdataValuesPerContainer = (
        await netdataCoverage(netdataPort, running, intervalS)
      )?.valuesPerContainer;
    }
    // Past the first samples' one-off work (inspects, chart creation) and the collector's JIT
    // warm-up, which is counted in ticks: V8 optimizes a function after so many calls, and a
    // tick calls the per-sample ones once per container. At 10 s the collector's compiler thread
    // took 0.7 ms of CPU a second over its first two minutes and 0.08 after six, its main thread a
    // third less by then: a one-off cost of starting, which a long-running collector no longer pays.
    await sleep(Math.max(2 * intervalMs, 12_000, WARM_UP_TICKS * intervalMs));

    const pids = await containerPids(docker, new Set(running));
    const benchContainers = running.map((id) => ({ cgroup: `docker/${id}`, pid: pids.get(id) ?? 0 }));
    kept.push(...openBenchFiles(benchContainers));
    const daemons = daemonPids();
    const ids = new Set(running);
    const disturbedWindows: WindowFigures[] = [];
    const disturbedBare: Record<BareLoop, number[]> = { "(c)": [], "(d)": [], "(d2)": [] };
    for (let attempt = 0; result.windows.length < ROUNDS && attempt < 2 * ROUNDS; attempt++) {
      const hostBefore = await runningIds(docker);
      const before = readTools(tools);
      const samplesBefore = { collector: published.collector.samples, baseline: published.baseline.samples };
      const startedAtMs = Date.now();
      const bare: Record<BareLoop, number[]> = { "(c)": [], "(d)": [], "(d2)": [] };
      // The bare loops at the tools' interval, (c) once a window (dockerd answers one-shot calls
      // only on its 1 s collection cycle, so it cannot keep a 1 s pace beside the others).
      for (let tick = 0; Date.now() - startedAtMs < windowS * 1000 - intervalMs / 2; tick++) {
        const tickAtMs = startedAtMs + tick * intervalMs;
        bare["(d)"].push(measureTick(() => bareFileReads(benchContainers)) / ids.size);
        bare["(d2)"].push(measureTick(() => bareKeptReads(kept)) / ids.size);
        if (tick === 0) bare["(c)"].push((await measureApiTick(docker, ids, daemons)) / ids.size);
        await sleep(Math.max(0, tickAtMs + intervalMs - Date.now()));
      }
      await sleep(Math.max(0, startedAtMs + windowS * 1000 - Date.now()));
      const after = readTools(tools);
      const seconds = (Date.now() - startedAtMs) / 1000;
      const disturbed = (await runningIds(docker)) !== hostBefore;
      const window: WindowFigures = {
        seconds,
        cpuMs: {
          netdata: after.netdata.cpuMs - before.netdata.cpuMs,
          collector: after.collector.cpuMs - before.collector.cpuMs,
          baseline: after.baseline.cpuMs - before.baseline.cpuMs,
        },
        // Netdata collects every charted container once per interval.
        samples: {
          netdata: running.length * Math.round(seconds / intervalS),
          collector: published.collector.samples - samplesBefore.collector,
          baseline: published.baseline.samples - samplesBefore.baseline,
        },
        rssMb: {
          netdata: after.netdata.rssMb,
          collector: after.collector.rssMb,
          baseline: after.baseline.rssMb,
        },
      };
      console.log(
        `  window ${attempt + 1}${disturbed ? " (discarded: a container started or stopped on this host during it)" : ""}: ` +
          `collector ${fixed(window.cpuMs.collector / window.samples.collector)} ms/sample (RSS ${fixed(window.rssMb.collector, 1)} MB)` +
          (tools.baseline
            ? `, baseline ${fixed(window.cpuMs.baseline / window.samples.baseline)} ms/sample (RSS ${fixed(window.rssMb.baseline, 1)} MB)`
            : "") +
          (tools.netdata
            ? `, Netdata ${fixed(window.cpuMs.netdata / window.samples.netdata)} ms/sample`
            : ""),
      );
      (disturbed ? disturbedWindows : result.windows).push(window);
      if (!disturbed)
        for (const loop of ["(c)", "(d)", "(d2)"] as const) result.bare[loop].push(...bare[loop]);
      else for (const loop of ["(c)", "(d)", "(d2)"] as const) disturbedBare[loop].push(...bare[loop]);
    }
    result.discarded = disturbedWindows.length;
    if (result.windows.length === 0) {
      // Better disturbed figures, said to be so, than none (a shared dockerd that never rests).
      result.windows = disturbedWindows;
      result.bare = disturbedBare;
      result.disturbedOnly = true;
    }

    // A new container's cost: the CPU over a span in which NEW_PER_PHASE containers start,
    // beyond the steady rate and the samples of the new containers once sampled. They start
    // even without a steady rate to compare with (n/a then): the next phase counts on them.
    if (newIds.length > 0) {
      const before = readTools(tools);
      const startedAtMs = Date.now();
      await forEachBounded(newIds, 6, (id) => options.docker.getContainer(id).start());
      const coveredNewAt = await waitForCoverage(
        newIds,
        seen,
        tools.netdata ? netdataPort : undefined,
        intervalS,
      );
      await sleep(Math.max(0, startedAtMs + Math.max(30_000, 3 * intervalMs) - Date.now()));
      const after = readTools(tools);
      const endedAtMs = Date.now();
      const spanS = (endedAtMs - startedAtMs) / 1000;
      for (const tool of ["collector", "baseline", "netdata"] as const) {
        if (!tools[tool]) continue;
        // The baseline's coverage of the new containers is not awaited: it is taken as the collector's.
        const coveredAtMs = tool === "netdata" ? coveredNewAt.netdataAtMs : coveredNewAt.collectorAtMs;
        if (coveredAtMs === undefined) continue;
        const steadyMsPerS = median(result.windows.map((w) => w.cpuMs[tool] / w.seconds));
        const perSampleMs = median(result.windows.map((w) => w.cpuMs[tool] / w.samples[tool]));
        const newSamples = (newIds.length * (endedAtMs - coveredAtMs)) / intervalMs;
        const extraMs =
          after[tool].cpuMs - before[tool].cpuMs - steadyMsPerS * spanS - perSampleMs * newSamples;
        result.perNewContainerMs[tool] = extraMs / newIds.length;
      }
    }
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    for (const fd of kept.flat()) closeSync(fd);
    await stopTool(tools, "netdata");
    await stopTool(tools, "collector");
    await stopTool(tools, "baseline");
  }
  return result;
}

/** Each collector publishes under a prefix (and host name) of its own, so its samples are counted apart. */
function collectorPrefix(phasePrefix: string, tool: CollectorTool): string {
  return tool === "baseline" ? `${phasePrefix}-base` : phasePrefix;
}

/** Waits until the collector has published, and Netdata charts, each of `ids`; when each got there. */
async function waitForCoverage(
  ids: readonly string[],
  seen: ReadonlySet<string>,
  netdataPort: number | undefined,
  intervalS: number,
): Promise<{ collectorAtMs: number | undefined; netdataAtMs: number | undefined; netdata: boolean }> {
  const deadline = Date.now() + COVERAGE_TIMEOUT_MS;
  let collectorAtMs: number | undefined;
  let netdataAtMs: number | undefined;
  while (Date.now() < deadline) {
    if (collectorAtMs === undefined && ids.every((id) => seen.has(id))) collectorAtMs = Date.now();
    if (netdataPort !== undefined && netdataAtMs === undefined) {
      const coverage = await netdataCoverage(netdataPort, ids, intervalS);
      if (coverage !== undefined && coverage.charted.size === ids.length) netdataAtMs = Date.now();
    }
    if (collectorAtMs !== undefined && (netdataPort === undefined || netdataAtMs !== undefined)) break;
    await sleep(500);
  }
  if (collectorAtMs === undefined) {
    throw new Error(`the collector did not publish every container within ${COVERAGE_TIMEOUT_MS / 1000} s`);
  }
  return { collectorAtMs, netdataAtMs, netdata: netdataAtMs !== undefined };
}

function readTools(
  tools: Partial<Record<Tool, RunningTool>>,
): Record<Tool, { cpuMs: number; rssMb: number }> {
  const read = (tool: RunningTool | undefined) =>
    tool === undefined
      ? { cpuMs: Number.NaN, rssMb: Number.NaN }
      : { cpuMs: tool.cgroup.cpuMs(), rssMb: tool.cgroup.rssMb() };
  return { netdata: read(tools.netdata), collector: read(tools.collector), baseline: read(tools.baseline) };
}

/** The tools running now, for a Ctrl-C to stop. */
const liveTools = new Set<RunningTool>();

async function stopTool(tools: Partial<Record<Tool, RunningTool>>, name: Tool): Promise<void> {
  const tool = tools[name];
  if (tool === undefined) return;
  delete tools[name];
  liveTools.delete(tool);
  await tool.cgroup.stop(tool.child);
  tool.cleanup?.();
}

/** This process's CPU over a synchronous tick, ms. */
function measureTick(tick: () => void): number {
  const before = process.cpuUsage();
  tick();
  const spent = process.cpuUsage(before);
  return (spent.user + spent.system) / 1000;
}

/** (c): one parallel one-shot stats call per container; this process's CPU plus dockerd's, containerd's and the shims', ms. */
async function measureApiTick(
  docker: Docker,
  ids: ReadonlySet<string>,
  daemons: readonly number[],
): Promise<number> {
  const daemonBefore = daemonCpuTicks(daemons);
  const before = process.cpuUsage();
  // A variable, not a literal, passes dockerode's typings (which lack one-shot) without a cast.
  const oneShot = { stream: false, "one-shot": true } as const;
  await Promise.all([...ids].map((id) => docker.getContainer(id).stats(oneShot)));
  const spent = process.cpuUsage(before);
  const daemonMs = (ticksSpent(daemonBefore, daemonCpuTicks(daemons)) * 1000) / CLOCK_TICKS_PER_SECOND;
  return (spent.user + spent.system) / 1000 + daemonMs;
}

/** ", plus <flags>" when the bench adds Node flags to that collector. */
function flagsLabel(tool: CollectorTool): string {
  return EXTRA_FLAGS[tool].length === 0 ? "" : `, plus ${EXTRA_FLAGS[tool].join(" ")}`;
}

function report(results: readonly PhaseResult[]): void {
  const rows: Record<string, string | number>[] = [];
  const verdicts: Record<string, string | number>[] = [];
  for (const phase of results) {
    const interval = `${phase.intervalMs / 1000} s`;
    const perSample = (tool: Tool) => median(phase.windows.map((w) => w.cpuMs[tool] / w.samples[tool]));
    const netdataPerSample = phase.netdataMissing === undefined ? perSample("netdata") : Number.NaN;
    const toolRow = (tool: Tool, label: string) => ({
      interval,
      approach: label,
      windows: phase.disturbedOnly
        ? `${phase.windows.length}, all disturbed`
        : `${phase.windows.length} (${phase.discarded} discarded)`,
      "CPU ms per container-sample": fixed(perSample(tool), 4),
      "CPU ms per second": fixed(median(phase.windows.map((w) => w.cpuMs[tool] / w.seconds)), 2),
      "RSS MB": fixed(median(phase.windows.map((w) => w.rssMb[tool])), 1),
      "vs Netdata": fixed(perSample(tool) / netdataPerSample, 2),
      "CPU ms per new container": fixed(phase.perNewContainerMs[tool] ?? Number.NaN, 1),
    });
    if (phase.netdataMissing === undefined) rows.push(toolRow("netdata", "Netdata (cgroups only, RAM db)"));
    rows.push(toolRow("collector", `collector (as compose runs it${flagsLabel("collector")})`));
    if (BASELINE !== undefined)
      rows.push(toolRow("baseline", `baseline collector (${BASELINE}${flagsLabel("baseline")})`));
    for (const [loop, label] of [
      ["(c)", "(c) bare one-shot API calls, incl. dockerd"],
      ["(d)", "(d) bare cgroup file reads"],
      ["(d2)", "(d2) same files kept open"],
    ] as const) {
      const value = median(phase.bare[loop]);
      rows.push({
        interval,
        approach: label,
        windows: `${phase.bare[loop].length} ticks`,
        "CPU ms per container-sample": fixed(value, 4),
        "CPU ms per second": "",
        "RSS MB": "",
        "vs Netdata": fixed(value / netdataPerSample, 2),
        "CPU ms per new container": "",
      });
    }
    const ratio = perSample("collector") / netdataPerSample;
    verdicts.push({
      interval,
      "collector / Netdata": fixed(ratio, 2),
      target: `≤ ${TARGET_RATIO}`,
      met: Number.isFinite(ratio)
        ? ratio <= TARGET_RATIO
          ? "yes"
          : "no"
        : `n/a (Netdata ${phase.netdataMissing})`,
      "Netdata values per container": fixed(phase.netdataValuesPerContainer ?? Number.NaN, 1),
      ...(BASELINE === undefined
        ? {}
        : { "collector / baseline": fixed(perSample("collector") / perSample("baseline"), 2) }),
    });
  }
  console.log(
    `\ncollector vs Netdata, ${IDLE} idle + ${BUSY} busy containers, each tool in its own cgroup (CPU: the cgroup's account over each window; medians over windows; bare loops: this process's CPU per tick)`,
  );
  console.table(rows);
  console.table(verdicts);
}
