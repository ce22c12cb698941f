// The watcher as it ships (in a child process, Docker mode), measured two ways,
// side by side with an older checkout when CROWSNEST_BENCH_BASELINE names one (a git worktree
// with its dependencies installed), so both meet the same load on this shared machine:
//
// 1. Event latency: STARTS containers are started one at a time and, for each, the time from
//    dockerd's own time of the `start` event (ts_nano) to its arrival at a NATS subscriber, per
//    watcher, each run as its tree's image runs it. Every watcher sees the same starts. Median and
//    p99 per watcher, and paired: per start, one watcher's latency over the other's (median,
//    quartiles, which was faster how often). Measured twice: to the arrival at the bench's
//    subscriber, and to the time NATS stored the message (the events stream's own timestamp),
//    which leaves out when the subscriber's event loop got to it. The starts are shared out into rounds
//    (CROWSNEST_BENCH_LATENCY_ROUNDS, 2); each round starts the watchers anew, one after the
//    other, in another order, and its paired figures are printed with which was started first.
// 2. Memory: collector + watcher with MEMORY_CONTAINERS running containers, after MEMORY_SECONDS,
//    against two bare Node processes that only load the NATS client and connect: as the image
//    runs them (each agent with the V8 flags its tree's docker-compose.yml gives it, the bare pair
//    with the flags the two agents share; the agents bundled by docker/bundle-agents.ts, or plain
//    JavaScript for a tree from before the bundles)
//    and from src/main.ts (types stripped at load). With each process's CPU time over the
//    measured seconds, so that a change in how the agents are built shows its cost as well. The pair's figure is its resident
//    pages with every shared page counted once (support/service-memory.ts; needs root, else PSS
//    is the figure to read).
//
// CROWSNEST_BENCH_PHASES=latency or =memory runs one of the two; CROWSNEST_BENCH_STARTS sets the
// number of timed starts (50); CROWSNEST_BENCH_AGENT_FLAGS replaces the V8 flags the image gives
// the agents (both alike). CROWSNEST_BENCH_COMPARE_FLAGS names a second flag set: this tree's agents then also
// run with it, side by side with the first in each phase (one more watcher in the latency phase;
// one more pair, and a bare pair with the same flags, in the memory phase), so that a flag's cost
// and gain are measured in one run under one load.
//
// Measures and prints; asserts nothing. Every container and stream it creates is removed.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { codecs, createSubjects, DEFAULT_STREAM_RETENTION, streamDefinitions } from "@crowsnest/shared";
import { streamName, watcherStateBucketName } from "@crowsnest/shared/agent";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import Docker from "dockerode";
import { parse } from "yaml";
import {
  type BuiltAgents,
  buildAgentsAsImage,
  type MemoryFigures,
  memoryFigures,
  residentUnionMb,
} from "./support/service-memory.ts";

const IMAGE = process.env.CROWSNEST_TEST_WORKLOAD_IMAGE || "crowsnest-test/busybox:1";
const NATS_URL = process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
const BASELINE = process.env.CROWSNEST_BENCH_BASELINE;
const PHASES = (process.env.CROWSNEST_BENCH_PHASES || "latency,memory").split(",");
/** CROWSNEST_BENCH_AGENT_FLAGS (space-separated): replaces the flags of both agents (and the bare pair). */
const AGENT_FLAGS = flagList(process.env.CROWSNEST_BENCH_AGENT_FLAGS);
/** A second flag set for both of this tree's agents, measured beside the image's (CROWSNEST_BENCH_COMPARE_FLAGS). */
const COMPARE_FLAGS = flagList(process.env.CROWSNEST_BENCH_COMPARE_FLAGS);
const LABEL = "dev.crowsnest.bench";
/** Starts timed in the latency phase (CROWSNEST_BENCH_STARTS): with 50, the p99 is the slowest start. */
const STARTS = Number(process.env.CROWSNEST_BENCH_STARTS || 50);
/**
 * Rounds the latency phase's starts are shared out into (CROWSNEST_BENCH_LATENCY_ROUNDS, 2): each
 * round starts the watchers anew in another order, so that being first on dockerd's stream (or
 * on the machine) favours each in turn.
 */
const LATENCY_ROUNDS = Math.max(1, Number(process.env.CROWSNEST_BENCH_LATENCY_ROUNDS || 2));
const MEMORY_CONTAINERS = 100;
const MEMORY_SECONDS = 30;
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

function flagList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value.split(" ").filter((flag) => flag !== "");
}

interface Tree {
  label: string;
  root: string;
  prefix: string;
}

/** The V8 flags of each agent. */
type AgentFlags = Readonly<Record<"collector" | "watcher", readonly string[]>>;

/** A tree's agents as built for its image, each run with its V8 flags. */
interface Variant {
  label: string;
  built: BuiltAgents;
  flags: AgentFlags;
  prefix: string;
}

/**
 * The V8 flags the tree's docker-compose.yml gives each agent (what its `node` command holds
 * between `node` and the entry point), so that a baseline tree runs with its own.
 */
function composeFlags(root: string): AgentFlags {
  const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"), { merge: true }) as {
    services: Record<string, { command?: string[] }>;
  };
  const flagsOf = (agent: "collector" | "watcher") => {
    const command = compose.services[agent]?.command;
    if (command?.[0] !== "node")
      throw new Error(`${root}/docker-compose.yml: no node command for the ${agent}`);
    return command.slice(1, -1);
  };
  return { collector: flagsOf("collector"), watcher: flagsOf("watcher") };
}

const bothAgents = (flags: readonly string[]): AgentFlags => ({ collector: flags, watcher: flags });

/** The flags both agents have: the bare pair's, so that it is held against what the agents share. */
const sharedFlags = (flags: AgentFlags) => flags.collector.filter((flag) => flags.watcher.includes(flag));

/** How a variant's flags read in a label: once when both agents have the same. */
function describeFlags(flags: AgentFlags): string {
  const common = sharedFlags(flags);
  const own = (agent: "collector" | "watcher") => flags[agent].filter((flag) => !common.includes(flag));
  const extra = (["collector", "watcher"] as const)
    .filter((agent) => own(agent).length > 0)
    .map((agent) => `; ${agent} also ${own(agent).join(" ")}`)
    .join("");
  return `${common.join(" ")}${extra}`;
}

function startNode(root: string, args: readonly string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

const agentEnv = (prefix: string) => ({
  CROWSNEST_NATS_URL: NATS_URL,
  CROWSNEST_SUBJECT_PREFIX: prefix,
  CROWSNEST_HOST_NAME: prefix,
  CROWSNEST_COLLECT_INTERVAL_MS: "2000",
  CROWSNEST_LOG_LEVEL: "warn",
});

/** The agent's src/main.ts, types stripped at load. */
function startAgent(tree: Tree, name: "collector" | "watcher"): ChildProcess {
  return startNode(
    tree.root,
    [
      "--conditions=crowsnest-source",
      "--disable-warning=ExperimentalWarning",
      `services/${name}/src/main.ts`,
    ],
    agentEnv(tree.prefix),
  );
}

/** The agent as the image runs it, with the variant's V8 flags. */
function startBuiltAgent(variant: Variant, name: "collector" | "watcher", prefix: string): ChildProcess {
  return startNode(variant.built.dir, [...variant.flags[name], variant.built.entry(name)], agentEnv(prefix));
}

/**
 * Each tree as its image runs it with its compose file's flags (or CROWSNEST_BENCH_AGENT_FLAGS),
 * then this tree (the first) with COMPARE_FLAGS when they are set.
 */
function variantsOf(trees: readonly Tree[], builds: readonly BuiltAgents[]): Variant[] {
  const variants: Variant[] = trees.map((tree, index) => {
    const built = builds[index];
    if (built === undefined) throw new Error(`no build of ${tree.label}`);
    const flags = AGENT_FLAGS === undefined ? composeFlags(tree.root) : bothAgents(AGENT_FLAGS);
    return { label: tree.label, built, flags, prefix: tree.prefix };
  });
  const [first] = variants;
  if (COMPARE_FLAGS !== undefined && first !== undefined) {
    variants.push({
      label: first.label,
      built: first.built,
      flags: bothAgents(COMPARE_FLAGS),
      prefix: `${first.prefix}-cmp`,
    });
  }
  // Every row names its flags.
  return variants.map((variant) => ({
    ...variant,
    label: `${variant.label}, ${describeFlags(variant.flags)}`,
  }));
}

/** User + system CPU seconds the process has used so far (/proc/<pid>/stat), NaN once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime, fields 14 and 15 of the line (11 and 12 after the command); 100 ticks a second.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** A Node process that loads only the NATS client and connects: the floor of a Node agent. */
function startBareNatsClient(flags: readonly string[]): ChildProcess {
  const script = `import { connect } from "@nats-io/transport-node";
    const nc = await connect({ servers: ${JSON.stringify(NATS_URL)} });
    process.on("SIGTERM", () => void nc.close().then(() => process.exit(0)));
    setInterval(() => {}, 60_000);`;
  return startNode(
    fileURLToPath(new URL("../../packages/shared", import.meta.url)),
    [...flags, "--input-type=module", "--eval", script],
    {},
  );
}

async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await exited;
  }
}

const nowNano = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const fixed = (value: number, digits: number) => Number(value.toFixed(digits));

async function createContainers(docker: Docker, runId: string, count: number): Promise<Docker.Container[]> {
  const containers: Docker.Container[] = [];
  await forEachBounded(
    Array.from({ length: count }, (_, i) => i),
    6,
    async () => {
      containers.push(
        await docker.createContainer({
          Image: IMAGE,
          Cmd: ["/bin/sh", "-c", "sleep 3600"],
          Labels: { [LABEL]: runId, "dev.crowsnest.test": "1" },
          HostConfig: { NetworkMode: "none" },
        }),
      );
    },
  );
  return containers;
}

/** Resolves once the watcher of each prefix has published its startup inventory. */
async function watchersReady(
  nc: NatsConnection,
  prefixes: readonly string[],
  timeoutMs: number,
): Promise<void> {
  await Promise.all(
    prefixes.map(async (prefix) => {
      const subscription = nc.subscribe(createSubjects(prefix).inventory(prefix, "docker"), {
        max: 1,
        timeout: timeoutMs,
      });
      for await (const _ of subscription) break;
    }),
  );
}

/** A start event as it arrived: stamped first, decoded later, so one watcher's decoding never delays the other's stamp. */
interface Arrival {
  variant: number;
  arrivedNano: bigint;
  data: Uint8Array;
}

/** What one round measured, per variant: each timed start's latency (ms) by container id, two ways, and CPU seconds. */
interface LatencyRound {
  /** Variant indexes in the order their watchers were started (and subscribed to dockerd's events). */
  order: readonly number[];
  /** Until the event reached the bench's subscriber. */
  latencies: Map<string, number>[];
  /** Until NATS stored it: the events stream's own time of the message. */
  stored: Map<string, number>[];
  cpuSeconds: number[];
}

/**
 * Per timed start, the time from dockerd's time of the event to the time the events stream
 * stored the watcher's message (JetStream's own timestamp): the watcher's part of the latency
 * and nothing of the subscriber's. The subscriber stamps an arrival only when its event loop
 * gets to it, often two watchers' messages at once.
 */
async function storedLatencies(
  nc: NatsConnection,
  prefix: string,
  ours: ReadonlySet<string>,
): Promise<Map<string, number>> {
  const subjects = createSubjects(prefix);
  const consumer = await jetstream(nc).consumers.get(streamName(subjects, "events"), {
    // One subject as a string: a list needs NATS 2.10.
    filter_subjects: subjects.event(prefix, "docker", "container", "start"),
  });
  const latencies = new Map<string, number>();
  for (;;) {
    let fetched = 0;
    for await (const message of await consumer.fetch({ max_messages: 256, expires: 1000 })) {
      fetched++;
      const decoded = codecs.event.decode(message.data);
      if (!decoded.ok || decoded.value.ts_nano === null || decoded.value.synthesized) continue;
      if (!ours.has(decoded.value.actor.external_id)) continue;
      latencies.set(
        decoded.value.actor.external_id,
        Number(message.timestampNanos - BigInt(decoded.value.ts_nano)) / 1e6,
      );
    }
    if (fetched === 0) return latencies;
  }
}

/** The round's variant order: the variants rotated by the round, so each watcher is started first in turn. */
const roundOrder = (count: number, round: number): number[] =>
  Array.from({ length: count }, (_, index) => (index + round) % count);

/** The prefix of a variant's watcher in one round of the latency phase. */
const roundPrefix = (prefix: string, round: number) => `${prefix}-r${round}`;

async function latencyRound(
  nc: NatsConnection,
  variants: readonly Variant[],
  containers: readonly Docker.Container[],
  round: number,
): Promise<LatencyRound> {
  const order = roundOrder(variants.length, round);
  // The watchers see every container of this dockerd; only this round's starts are timed.
  const ours = new Set(containers.map((container) => container.id));
  const latencies = variants.map(() => new Map<string, number>());
  const prefixes = variants.map((variant) => roundPrefix(variant.prefix, round));
  const arrivals: Arrival[] = [];
  const subscriptions = prefixes.map((prefix, variant) =>
    nc.subscribe(createSubjects(prefix).event(prefix, "docker", "container", "start"), {
      callback: (error, message) => {
        if (error === null) arrivals.push({ variant, arrivedNano: nowNano(), data: message.data });
      },
    }),
  );
  const decodeArrivals = () => {
    for (const { variant, arrivedNano, data } of arrivals.splice(0)) {
      const decoded = codecs.event.decode(data);
      if (!decoded.ok || decoded.value.ts_nano === null || decoded.value.synthesized) continue;
      if (!ours.has(decoded.value.actor.external_id)) continue;
      latencies[variant]?.set(
        decoded.value.actor.external_id,
        Number(arrivedNano - BigInt(decoded.value.ts_nano)) / 1e6,
      );
    }
  };
  const watchers: ChildProcess[] = [];
  const cpuReady: number[] = [];
  const cpuSecondsUsed: number[] = [];
  try {
    // One after the other, each once the one before is ready: dockerd then writes each event to
    // the watchers' streams in this order.
    for (const variant of order) {
      const started = variants[variant];
      const prefix = prefixes[variant];
      if (started === undefined || prefix === undefined) throw new Error(`no variant ${variant}`);
      watchers[variant] = startBuiltAgent(started, "watcher", prefix);
      await watchersReady(nc, [prefix], 60_000);
    }
    for (const [variant, watcher] of watchers.entries()) cpuReady[variant] = cpuSeconds(watcher.pid ?? -1);
    for (const container of containers) {
      await container.start();
      const deadline = Date.now() + 10_000;
      decodeArrivals();
      while (!latencies.every((byId) => byId.has(container.id)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        decodeArrivals();
      }
    }
    for (const [variant, watcher] of watchers.entries()) {
      cpuSecondsUsed[variant] = cpuSeconds(watcher.pid ?? -1) - (cpuReady[variant] ?? Number.NaN);
    }
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    await stopAll(watchers.filter((watcher) => watcher !== undefined));
  }
  const stored = await Promise.all(prefixes.map((prefix) => storedLatencies(nc, prefix, ours)));
  return { order, latencies, stored, cpuSeconds: cpuSecondsUsed };
}

/**
 * The same starts seen by two watchers: per start, `numerator`'s latency over `denominator`'s.
 * Both watchers met the same moment of the machine, so the ratio cancels most of what the load
 * does to a start; its median and quartiles say how far apart the two are, start by start.
 */
function pairedRatios(
  numerator: ReadonlyMap<string, number>,
  denominator: ReadonlyMap<string, number>,
): { ratios: number[]; differencesMs: number[] } {
  const ratios: number[] = [];
  const differencesMs: number[] = [];
  for (const [id, latency] of numerator) {
    const other = denominator.get(id);
    if (other === undefined || other <= 0) continue;
    ratios.push(latency / other);
    differencesMs.push(latency - other);
  }
  return { ratios: ratios.sort((a, b) => a - b), differencesMs: differencesMs.sort((a, b) => a - b) };
}

function describePairs(numerator: ReadonlyMap<string, number>, denominator: ReadonlyMap<string, number>) {
  const { ratios, differencesMs } = pairedRatios(numerator, denominator);
  return {
    starts: ratios.length,
    "median ratio": fixed(percentile(ratios, 50), 3),
    "ratio p25–p75": `${fixed(percentile(ratios, 25), 3)}–${fixed(percentile(ratios, 75), 3)}`,
    "median difference ms": fixed(percentile(differencesMs, 50), 2),
    "numerator faster": `${fixed((100 * ratios.filter((ratio) => ratio < 1).length) / Math.max(1, ratios.length), 0)} %`,
  };
}

async function measureLatency(
  docker: Docker,
  nc: NatsConnection,
  variants: readonly Variant[],
  runId: string,
) {
  const containers = await createContainers(docker, runId, STARTS);
  const rounds: LatencyRound[] = [];
  try {
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      // The starts shared out between the rounds, in the order they were created.
      const share = containers.filter((_, index) => index % LATENCY_ROUNDS === round);
      rounds.push(await latencyRound(nc, variants, share, round));
    }
  } finally {
    await forEachBounded(containers, 6, (container) =>
      container.remove({ force: true }).catch(() => undefined),
    );
  }
  console.log(
    `\nevent latency: from dockerd's time of a container's start event, ${STARTS} starts, one at a time, in ${LATENCY_ROUNDS} rounds (each round starts the watchers in another order)`,
  );
  reportLatencies("to its arrival at a NATS subscriber", variants, rounds, (round) => round.latencies);
  reportLatencies(
    "to its message stored by NATS (the stream's time)",
    variants,
    rounds,
    (round) => round.stored,
  );
}

/** Per watcher, median and p99 of one kind of latency over all rounds; then each watcher against the first, paired. */
function reportLatencies(
  title: string,
  variants: readonly Variant[],
  rounds: readonly LatencyRound[],
  pick: (round: LatencyRound) => readonly Map<string, number>[],
): void {
  console.log(`\n${title}`);
  const all = variants.map((_, variant) => {
    const merged = new Map<string, number>();
    for (const round of rounds) for (const [id, ms] of pick(round)[variant] ?? []) merged.set(id, ms);
    return merged;
  });
  const rows = variants.map((variant, index) => {
    const sorted = [...(all[index]?.values() ?? [])].sort((a, b) => a - b);
    return {
      watcher: variant.label,
      events: sorted.length,
      "median ms": fixed(percentile(sorted, 50), 2),
      "p99 ms": fixed(percentile(sorted, 99), 2),
      "CPU s": fixed(
        rounds.reduce((total, round) => total + (round.cpuSeconds[index] ?? Number.NaN), 0),
        2,
      ),
    };
  });
  console.table(rows);
  // Against the first row: this tree with the image's flags. A baseline tree's row reads
  // "this tree / baseline", a second flag set's row "this flag set / the image's".
  for (const index of rows.keys()) {
    if (index === 0) continue;
    const [numerator, denominator] = rows[index]?.watcher.startsWith("baseline") ? [0, index] : [index, 0];
    const numeratorRow = rows[numerator];
    const denominatorRow = rows[denominator];
    if (numeratorRow === undefined || denominatorRow === undefined) continue;
    console.log(
      `${numeratorRow.watcher} against ${denominatorRow.watcher}: median ${fixed(numeratorRow["median ms"] / denominatorRow["median ms"], 3)}×, p99 ${fixed(numeratorRow["p99 ms"] / denominatorRow["p99 ms"], 3)}× (target: within 5 %)`,
    );
    console.log(
      "the same starts, paired (numerator: the first watcher named above), all rounds and each round:",
    );
    const pairs = (round: LatencyRound | undefined) => {
      const latencyOf = (variant: number) => (round === undefined ? all[variant] : pick(round)[variant]);
      return describePairs(latencyOf(numerator) ?? new Map(), latencyOf(denominator) ?? new Map());
    };
    const firstOf = (round: LatencyRound) =>
      round.order[0] === numerator ? "numerator" : round.order[0] === denominator ? "denominator" : "another";
    console.table([
      { round: "all", "started first": "—", ...pairs(undefined) },
      ...rounds.map((round, number) => ({
        round: String(number + 1),
        "started first": firstOf(round),
        ...pairs(round),
      })),
    ]);
  }
}

async function measureMemory(
  docker: Docker,
  trees: readonly Tree[],
  variants: readonly Variant[],
  runId: string,
) {
  const containers = await createContainers(docker, runId, MEMORY_CONTAINERS);
  await forEachBounded(containers, 6, (container) => container.start().then(() => undefined));
  const bareLabel = (flags: readonly string[]) =>
    `two bare Node processes, NATS client only${flags.length === 0 ? "" : `, ${flags.join(" ")}`}`;
  const barePlainLabel = bareLabel([]);
  /** Each flag set the agents run with, once: a bare pair per set. */
  const flagSets = [
    ...new Map(
      variants.map((variant) => [sharedFlags(variant.flags).join(" "), sharedFlags(variant.flags)]),
    ).values(),
  ];
  /** The label of the bare pair to hold each group against. */
  const bareOf = new Map<string, string>();
  const groups = [
    ...variants.map((variant) => {
      const prefix = `${variant.prefix}-js`;
      const label = `collector + watcher, ${variant.label}, as the image runs`;
      bareOf.set(label, bareLabel(sharedFlags(variant.flags)));
      return {
        label,
        children: [
          startBuiltAgent(variant, "collector", prefix),
          startBuiltAgent(variant, "watcher", prefix),
        ],
      };
    }),
    ...flagSets.map((flags) => ({
      label: bareLabel(flags),
      children: [startBareNatsClient(flags), startBareNatsClient(flags)],
    })),
    ...trees.map((tree) => ({
      label: `collector + watcher, ${tree.label}, src/main.ts`,
      children: [startAgent(tree, "collector"), startAgent(tree, "watcher")],
    })),
    { label: barePlainLabel, children: [startBareNatsClient([]), startBareNatsClient([])] },
  ];
  const last = new Map<
    string,
    { figures: (MemoryFigures | undefined)[]; unionMb: number | undefined; pids: number[] }
  >();
  /** CPU seconds of each process over the measured seconds (from the first sample on, after startup). */
  const cpuAtStart = new Map<number, number>();
  const cpuUsed = new Map<number, number>();
  try {
    for (let second = 0; second < MEMORY_SECONDS; second++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      for (const group of groups) {
        const pids = group.children
          .map((child) => child.pid)
          .filter((pid): pid is number => pid !== undefined);
        last.set(group.label, {
          pids,
          figures: pids.map((pid) => memoryFigures(pid)),
          unionMb: pids.length === 2 ? residentUnionMb(pids) : undefined,
        });
        for (const pid of pids) {
          const used = cpuSeconds(pid);
          if (!cpuAtStart.has(pid)) cpuAtStart.set(pid, used);
          cpuUsed.set(pid, used - (cpuAtStart.get(pid) ?? used));
        }
      }
    }
  } finally {
    await stopAll(groups.flatMap((group) => group.children));
    await forEachBounded(containers, 6, (container) =>
      container.remove({ force: true }).catch(() => undefined),
    );
  }
  console.log(
    `\nmemory: ${MEMORY_CONTAINERS} running containers, after ${MEMORY_SECONDS} s, collect interval 2 s; × bare: against the bare pair run the same way`,
  );
  const bareFor = (label: string) =>
    last.get(bareOf.get(label) ?? (label.endsWith("src/main.ts") ? barePlainLabel : label));
  const rows = [...last.entries()].map(([label, { figures, unionMb }]) => {
    const sum = (pick: (f: MemoryFigures) => number) =>
      fixed(
        figures.reduce((total, f) => total + (f === undefined ? Number.NaN : pick(f)), 0),
        1,
      );
    const pair = unionMb ?? Number.NaN;
    const bare = bareFor(label);
    return {
      processes: label,
      "VmRSS MB": sum((f) => f.rssMb),
      "PSS MB": sum((f) => f.pssMb),
      "private MB": sum((f) => f.privateMb),
      "resident, shared pages once MB": unionMb === undefined ? "n/a (needs root)" : fixed(pair, 1),
      "× bare": bare?.unionMb === undefined ? "n/a" : fixed(pair / bare.unionMb, 2),
    };
  });
  console.table(rows);
  console.log("target: collector + watcher ≤ 1.3× the two bare processes (resident, shared pages once)");
  console.table(
    [...last.entries()].flatMap(([label, { figures, pids }]) =>
      figures.map((f, index) => ({
        process: `${label.startsWith("collector") ? (index === 0 ? "collector" : "watcher") : "bare"}, ${label}`,
        "VmRSS MB": fixed(f?.rssMb ?? Number.NaN, 1),
        "PSS MB": fixed(f?.pssMb ?? Number.NaN, 1),
        "private MB": fixed(f?.privateMb ?? Number.NaN, 1),
        [`CPU s over ${MEMORY_SECONDS - 1} s`]: fixed(cpuUsed.get(pids[index] ?? -1) ?? Number.NaN, 2),
      })),
    ),
  );
}

export async function run(): Promise<void> {
  const runId = `wbench${Date.now().toString(36)}`;
  const trees: Tree[] = [{ label: "this tree", root: repoRoot, prefix: `${runId}-cur` }];
  if (BASELINE !== undefined && BASELINE !== "") {
    trees.push({ label: `baseline ${BASELINE}`, root: BASELINE, prefix: `${runId}-base` });
  } else {
    console.log("CROWSNEST_BENCH_BASELINE unset: this tree only");
  }
  const docker = new Docker({ socketPath: "/var/run/docker.sock" });
  const nc = await connect({ servers: NATS_URL });
  const builds = await Promise.all(trees.map((tree) => buildAgentsAsImage(tree.root)));
  const variants = variantsOf(trees, builds);
  try {
    if (PHASES.includes("latency")) await measureLatency(docker, nc, variants, runId);
    if (PHASES.includes("memory")) await measureMemory(docker, trees, variants, runId);
  } finally {
    for (const build of builds) build.cleanup();
    const leftovers = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${runId}`] } });
    await forEachBounded(leftovers, 6, (entry) =>
      docker
        .getContainer(entry.Id)
        .remove({ force: true })
        .catch(() => undefined),
    );
    const jsm = await jetstreamManager(nc);
    for (const { prefix: variantPrefix } of variants) {
      const rounds = Array.from({ length: LATENCY_ROUNDS }, (_, round) => roundPrefix(variantPrefix, round));
      for (const prefix of [variantPrefix, `${variantPrefix}-js`, ...rounds]) {
        const subjects = createSubjects(prefix);
        for (const { config } of streamDefinitions(subjects, DEFAULT_STREAM_RETENTION)) {
          await jsm.streams.delete(config.name).catch(() => undefined);
        }
        // The watcher's published state (a KV bucket is the stream KV_<bucket>).
        await jsm.streams.delete(`KV_${watcherStateBucketName(subjects)}`).catch(() => undefined);
      }
    }
    await nc.close();
  }
}
