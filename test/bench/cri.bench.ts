// `pnpm bench cri`: the CRI runtime's agents against the tests' own containerd (CRI plugin on;
// CROWSNEST_TEST_CONTAINERD_SOCKET, skipped without it), with CONTAINERS containers running in
// pods of the bench's own (made through the CRI, 20 containers a pod).
//
// 1. Poll cost: the watcher (its main.ts, polling every second) beside a bare loop of the same
//    CRI calls (ListPodSandbox + ListContainers, support/cri-bare-loop.ts), both in processes of
//    their own, side by side for WINDOW_S seconds: CPU time of each (from /proc), per poll.
//    Target: watcher ≤ 1.3 × the bare loop.
// 2. Status change → bus: STOPS containers stopped one at a time; from the runtime's finish time
//    (the die's ts_nano) to the die message's arrival at a NATS subscriber. Target: p99 ≤ one
//    poll interval + 50 ms. Beside it, when the runtime itself first shows each container exited
//    (its status read every 10 ms), to tell the runtime's part of the latency from the watcher's.
// 3. Stats path: the collector's CRI adapter through ListContainerStats (CriStatsRuntime.sample
//    with CROWSNEST_STATS_SOURCE=api, its readings handed to a sink that keeps them) against a
//    bare loop of the same calls (ListContainerStats every tick, ListPodSandboxStats whenever
//    none is in flight), in this process, one tick each a second, interleaved half a second
//    apart. Target: ≤ 1.5 ×. Then, for scale, the whole collector (main.ts, publishing to NATS)
//    beside a bare loop process.
// 4. Stats source: the node's CPU per tick (this process, containerd and its shims) of reading
//    every running container through ListContainerStats and from its cgroup files, bare and
//    through the adapter in either mode (CROWSNEST_STATS_SOURCE api / auto), alternating.
//
// Measures and prints; asserts nothing. Every pod it makes is removed, with its cgroup.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { codecs, createLogger, createSubjects } from "@crowsnest/shared";
import { CriClient } from "@crowsnest/shared/cri";
import { CriTestDriver, type TestPod } from "@crowsnest/shared/cri/testing";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { connect } from "@nats-io/transport-node";
import { CgroupStatsReader } from "../../services/collector/src/cgroup/cgroup-stats-reader.ts";
import type { ContainerReading } from "../../services/collector/src/core/container-reading.ts";
import type { SamplingTick } from "../../services/collector/src/core/stats-runtime.ts";
import {
  detectCgroupLayout,
  runcCgroupDirectory,
} from "../../services/collector/src/procfs/cgroup-layout.ts";
import {
  type CriProcess,
  type CriStatsPort,
  CriStatsRuntime,
  criCgroupNaming,
} from "../../services/collector/src/runtimes/cri/cri-stats-runtime.ts";
import { deleteTestStreams } from "../support/bus-fixtures.ts";

const SOCKET = process.env.CROWSNEST_TEST_CONTAINERD_SOCKET ?? "";
const IMAGE = `docker.io/${process.env.CROWSNEST_TEST_WORKLOAD_IMAGE || "crowsnest-test/busybox:1"}`;
const NATS_URL = process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
const CONTAINERS = Number(process.env.CROWSNEST_BENCH_CONTAINERS || 200);
const WINDOW_S = Number(process.env.CROWSNEST_BENCH_WINDOW_S || 60);
const STOPS = Number(process.env.CROWSNEST_BENCH_STOPS || 40);
const POLL_MS = 1000;
const PER_POD = 20;
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const TICK_MS = 1000 / 100;
const VISIBLE_PROBE_MS = 10;

const nowNano = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/**
 * When the runtime first shows a container exited, from its status read every VISIBLE_PROBE_MS:
 * how long after the container's finish time that was (ms). Undefined when not seen in 10 s.
 */
async function exitedVisibleAt(client: CriClient, id: string): Promise<{ lagMs: number } | undefined> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const status = await client.containerStatus(id, false, AbortSignal.timeout(5_000)).catch(() => undefined);
    const seenAt = nowNano();
    if (status?.state === "exited" && status.finishedAtNano !== undefined) {
      return { lagMs: Number(seenAt - status.finishedAtNano) / 1e6 };
    }
    await sleep(VISIBLE_PROBE_MS);
  }
  return undefined;
}

/**
 * The test containerd and its shims (ListContainerStats has each shim read its containers'
 * cgroups): the daemon's PID from its pid file beside the socket, and every process whose
 * command line names the socket. Empty when the pid file is not there.
 */
function runtimePids(socket: string): number[] {
  let daemon: number;
  try {
    daemon = Number(readFileSync(join(dirname(socket), "containerd.pid"), "utf8").trim());
  } catch {
    return [];
  }
  const pids = [daemon];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv[0]?.includes("containerd-shim") && argv.includes(socket)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** The CPU the processes used together, in ms (those gone meanwhile count what they had). */
function cpuMsOf(pids: readonly number[], last: Map<number, number>): number {
  let total = 0;
  for (const pid of pids) {
    try {
      last.set(pid, cpuMs(pid));
    } catch {
      // Exited: its last reading stands.
    }
    total += last.get(pid) ?? 0;
  }
  return total;
}

/** CPU time (user + system) a process has used, in ms, from /proc/<pid>/stat. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

function node(script: string, env: Record<string, string>): ChildProcess {
  return spawn(
    process.execPath,
    ["--conditions=crowsnest-source", "--disable-warning=ExperimentalWarning", script],
    {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return;
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
}

/** The CPU each child used over the same window, after a warm-up. */
async function sideBySide(children: { label: string; child: ChildProcess }[], calls: number) {
  await sleep(5000);
  const before = children.map(({ child }) => cpuMs(child.pid ?? 0));
  await sleep(WINDOW_S * 1000);
  return children.map(({ label, child }, index) => {
    const used = cpuMs(child.pid ?? 0) - (before[index] ?? 0);
    return {
      process: label,
      "cpu ms": Math.round(used),
      "cpu ms per poll": Number((used / (WINDOW_S * calls)).toFixed(2)),
    };
  });
}

/**
 * A sampling tick that keeps each reading as the container's previous one, as the core does,
 * and publishes nothing.
 */
function keepingTick(): SamplingTick {
  const previous = new Map<string, ContainerReading>();
  return {
    stopping: false,
    counts: { published: 0, unpublished: 0, unchanged: 0, failed: 0, gone: 0 },
    previous: (id) => previous.get(id),
    async publish(readouts) {
      for (const readout of await Promise.all(readouts)) {
        if ("container" in readout) previous.set(readout.container.external_id, readout);
      }
    },
    retain: () => undefined,
    publishHost: () => true,
  };
}

export async function run(): Promise<void> {
  if (SOCKET === "") {
    console.log(
      "skipped: no test containerd (CROWSNEST_TEST_CONTAINERD_SOCKET; test/infra/containerd/start.sh)",
    );
    return;
  }
  const runId = `bench${Date.now().toString(36)}`;
  const prefix = `cn${runId}`;
  const subjects = createSubjects(prefix);
  const driver = new CriTestDriver(SOCKET);
  const client = new CriClient(SOCKET);
  const logRoot = await mkdtemp(join(tmpdir(), "crowsnest-bench-cri-"));
  const nc = await connect({ servers: NATS_URL });
  const sandboxes: string[] = [];
  const containers: { id: string; busId: string }[] = [];
  const children: ChildProcess[] = [];
  try {
    const startedAt = Date.now();
    const pods = Math.ceil(CONTAINERS / PER_POD);
    await forEachBounded(
      Array.from({ length: pods }, (_, index) => index),
      2,
      async (index) => {
        const uid = randomUUID();
        const pod: TestPod = {
          namespace: prefix,
          name: `pod-${index}`,
          uid,
          logDirectory: join(logRoot, uid),
        };
        const sandboxId = await driver.runPodSandbox(pod);
        sandboxes.push(sandboxId);
        for (let n = 0; n < Math.min(PER_POD, CONTAINERS - index * PER_POD); n++) {
          const id = await driver.createContainer(sandboxId, pod, {
            name: `c${n}`,
            attempt: 0,
            image: IMAGE,
            command: ["sleep", "3600"],
          });
          await driver.startContainer(id);
          containers.push({ id, busId: `${prefix}/${pod.name}/c${n}` });
        }
      },
    );
    console.log(
      `${containers.length} containers in ${pods} pods running in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`,
    );

    // 1. The watcher and a bare loop of its two list calls, side by side.
    const dies = new Map<string, number>();
    let inventoryContainers = 0;
    nc.subscribe(subjects.event(prefix, "cri", "container", "die"), {
      callback: (error, message) => {
        if (error !== null) return;
        const arrived = nowNano();
        const decoded = codecs.event.decode(message.data);
        if (!decoded.ok || decoded.value.ts_nano === null || decoded.value.synthesized) return;
        dies.set(decoded.value.actor.external_id, Number(arrived - BigInt(decoded.value.ts_nano)) / 1e6);
      },
    });
    nc.subscribe(subjects.inventory(prefix, "cri"), {
      callback: (error, message) => {
        const decoded = error === null ? codecs.inventory.decode(message.data) : undefined;
        if (decoded?.ok && decoded.value.reason === "startup")
          inventoryContainers += decoded.value.containers.filter(
            (c) => c.kubernetes?.namespace === prefix,
          ).length;
      },
    });
    await nc.flush();
    const watcher = node("services/watcher/src/main.ts", {
      CROWSNEST_NATS_URL: NATS_URL,
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HOST_NAME: prefix,
      CROWSNEST_RUNTIME: "cri",
      CROWSNEST_CRI_SOCKET: SOCKET,
      CROWSNEST_CRI_POLL_INTERVAL_MS: String(POLL_MS),
      CROWSNEST_CRI_LOG_ROOT: logRoot,
      CROWSNEST_LOG_LEVEL: "warn",
    });
    children.push(watcher);
    const readyBy = Date.now() + 120_000;
    while (inventoryContainers < containers.length && Date.now() < readyBy) await sleep(50);
    const barePoll = node("test/bench/support/cri-bare-loop.ts", {
      CRI_BARE_SOCKET: SOCKET,
      CRI_BARE_MODE: "poll",
      CRI_BARE_INTERVAL_MS: String(POLL_MS),
    });
    children.push(barePoll);
    const total = (await client.containers(AbortSignal.timeout(10_000))).length;
    console.log(
      `\npoll cost over ${WINDOW_S} s, one poll a second, ${containers.length} bench containers (${total} on the runtime); target: watcher ≤ 1.3 × bare`,
    );
    const poll = await sideBySide(
      [
        { label: "watcher (main.ts)", child: watcher },
        { label: "bare ListPodSandbox + ListContainers loop", child: barePoll },
      ],
      1000 / POLL_MS,
    );
    console.table(poll);
    console.log(`ratio: ${((poll[0]?.["cpu ms"] ?? 0) / (poll[1]?.["cpu ms"] ?? 1)).toFixed(2)}×`);
    await stop(barePoll);

    // 2. Status change → NATS message. Beside each stop, the stopped container's own status is
    // read every VISIBLE_PROBE_MS until the runtime shows it exited: the part of the latency that
    // is the runtime's (its exit recorded after it happened), apart from the watcher's.
    const visibleLags: number[] = [];
    const watcherParts: number[] = [];
    for (const { id, busId } of containers.slice(0, STOPS)) {
      const visible = exitedVisibleAt(client, id);
      await driver.stopContainer(id);
      const deadline = Date.now() + 10_000;
      while (!dies.has(busId) && Date.now() < deadline) await sleep(2);
      const arrivalMs = dies.get(busId);
      const seen = await visible;
      if (arrivalMs !== undefined && seen !== undefined) {
        visibleLags.push(seen.lagMs);
        watcherParts.push(arrivalMs - seen.lagMs);
      }
      // Stops land at random points of the poll interval, as real exits do.
      await sleep(Math.random() * POLL_MS);
    }
    // Only the stopped containers' dies: on the shared test containerd others may die meanwhile.
    const stopped = containers.slice(0, STOPS).map(({ busId }) => busId);
    const sorted = stopped.flatMap((busId) => dies.get(busId) ?? []).sort((a, b) => a - b);
    console.log(
      `\nfinish time (the die's ts_nano) → die message at NATS, ${STOPS} stops; target p99 ≤ ${POLL_MS + 50} ms`,
    );
    console.table([
      {
        dies: sorted.length,
        "other dies": dies.size - sorted.length,
        "median ms": Number(percentile(sorted, 50).toFixed(1)),
        "p99 ms": Number(percentile(sorted, 99).toFixed(1)),
        "max ms": Number((sorted.at(-1) ?? Number.NaN).toFixed(1)),
      },
    ]);
    const summary = (label: string, values: number[]) => {
      const ordered = [...values].sort((a, b) => a - b);
      return {
        part: label,
        stops: ordered.length,
        "median ms": Number(percentile(ordered, 50).toFixed(1)),
        "p99 ms": Number(percentile(ordered, 99).toFixed(1)),
        "max ms": Number((ordered.at(-1) ?? Number.NaN).toFixed(1)),
      };
    };
    console.log(
      `where it goes (the container's status read every ${VISIBLE_PROBE_MS} ms from the stop on): the runtime's part, then the watcher's (wait for the next poll, the poll, the publish)`,
    );
    console.table([
      summary("finish time → CRI shows it exited", visibleLags),
      summary("CRI shows it exited → die at NATS", watcherParts),
    ]);
    await stop(watcher);

    // 3. The stats path in this process against the bare calls, alternating.
    const statsRuntime = new CriStatsRuntime({
      cri: client,
      timeoutMs: 10_000,
      listMaxAgeMs: 60_000,
      logger: createLogger({ service: "collector", level: "warn", host: prefix }),
    });
    const tick = keepingTick();
    let bareInFlight: Promise<unknown> | undefined;
    const bareTick = async (): Promise<void> => {
      if (bareInFlight === undefined) {
        bareInFlight = client
          .podSandboxStats(AbortSignal.timeout(10_000))
          .catch(() => [])
          .finally(() => {
            bareInFlight = undefined;
          });
      }
      await client.containerStats(AbortSignal.timeout(10_000));
    };
    // Interleaved: each second the adapter's tick, half a second later the bare one; each side
    // is charged this process's CPU over its own half second (its calls and what follows them),
    // so the machine's load, which moves from second to second, weighs on both alike.
    const slot = async (work: () => Promise<unknown>): Promise<number> => {
      const before = process.cpuUsage();
      const startedAtMs = Date.now();
      await work();
      await sleep(Math.max(0, startedAtMs + POLL_MS / 2 - Date.now()));
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000;
    };
    for (let index = 0; index < 5; index++) await slot(() => statsRuntime.sample(tick)); // warm-up: lists, statuses, JIT
    let adapterMs = 0;
    let bareMs = 0;
    let ticks = 0;
    const endAt = Date.now() + WINDOW_S * 1000;
    while (Date.now() < endAt) {
      adapterMs += await slot(() => statsRuntime.sample(tick));
      bareMs += await slot(bareTick);
      ticks++;
    }
    const running = (await client.containerStats(AbortSignal.timeout(10_000))).length;
    console.log(
      `\nstats path in this process, ${running} containers in the stats, ${ticks} ticks each side, interleaved (half a second each); target: adapter ≤ 1.5 × bare`,
    );
    console.table([
      {
        reader: "CriStatsRuntime.sample (api: ListContainerStats)",
        "cpu ms": Math.round(adapterMs),
        "cpu ms per tick": Number((adapterMs / ticks).toFixed(2)),
      },
      {
        reader: "bare ListContainerStats (+ ListPodSandboxStats)",
        "cpu ms": Math.round(bareMs),
        "cpu ms per tick": Number((bareMs / ticks).toFixed(2)),
      },
    ]);
    console.log(`ratio: ${(adapterMs / bareMs).toFixed(2)}×`);

    await statsSource(client);

    // For scale: the whole collector, publishing, beside a bare loop process.
    const collector = node("services/collector/src/main.ts", {
      CROWSNEST_NATS_URL: NATS_URL,
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HOST_NAME: prefix,
      CROWSNEST_RUNTIME: "cri",
      CROWSNEST_CRI_SOCKET: SOCKET,
      CROWSNEST_COLLECT_INTERVAL_MS: String(POLL_MS),
      CROWSNEST_LOG_LEVEL: "warn",
    });
    children.push(collector);
    const bareStats = node("test/bench/support/cri-bare-loop.ts", {
      CRI_BARE_SOCKET: SOCKET,
      CRI_BARE_MODE: "stats",
      CRI_BARE_INTERVAL_MS: String(POLL_MS),
    });
    children.push(bareStats);
    console.log(
      `\nthe whole collector over ${WINDOW_S} s (publishing to NATS), beside a bare stats loop process`,
    );
    const stats = await sideBySide(
      [
        { label: "collector (main.ts, publishing; cgroup files, the default)", child: collector },
        { label: "bare ListContainerStats + ListPodSandboxStats loop process", child: bareStats },
      ],
      1000 / POLL_MS,
    );
    console.table(stats);
    console.log(`ratio: ${((stats[0]?.["cpu ms"] ?? 0) / (stats[1]?.["cpu ms"] ?? 1)).toFixed(2)}×`);
  } finally {
    for (const child of children) await stop(child);
    await forEachBounded(sandboxes, 2, async (id) => {
      await driver.stopPodSandbox(id).catch(() => undefined);
      await driver.removePodSandbox(id).catch(() => undefined);
    });
    driver.close();
    client.close();
    // The streams and the watcher-state bucket the agents made under the bench's prefix.
    await deleteTestStreams(nc, prefix).catch(() => undefined);
    await nc.close();
    await rm(logRoot, { recursive: true, force: true });
  }
}

/**
 * 4. Stats source: the node's whole CPU per tick (this process, and the runtime's daemon and
 * shims) of reading every running container through ListContainerStats and from its cgroup
 * files, bare (the calls alone; CgroupStatsReader, the Docker and containerd runtimes' fast path,
 * on the cgroup the verbose ContainerStatus's runtime spec names) and through the adapter
 * (CriStatsRuntime.sample in either mode; its ListPodSandboxStats left out, as it is the same in
 * both), in 3 alternating rounds of WINDOW_S / 6 seconds each.
 */
async function statsSource(client: CriClient): Promise<void> {
  const layout = detectCgroupLayout("/sys/fs/cgroup");
  const pids = runtimePids(SOCKET);
  if (!layout.ok || pids.length === 0) {
    console.log(`\nstats source: skipped (${layout.ok ? "no containerd pid file" : layout.reason})`);
    return;
  }
  const roundS = WINDOW_S / 6;
  const processes = new Map<string, CriProcess>();
  const listed = await client.containers(AbortSignal.timeout(10_000));
  await forEachBounded(
    listed.filter((container) => container.state === "running"),
    4,
    async (container) => {
      const status = await client.containerStatus(container.id, true, AbortSignal.timeout(10_000));
      const info = JSON.parse(status?.info.info ?? "{}") as {
        pid?: number;
        runtimeSpec?: { linux?: { cgroupsPath?: string } };
      };
      const cgroupsPath = info.runtimeSpec?.linux?.cgroupsPath ?? "";
      if (info.pid === undefined || cgroupsPath === "") return;
      processes.set(container.id, { cgroupPath: runcCgroupDirectory(cgroupsPath), pid: info.pid });
    },
  );
  const newReader = () =>
    new CgroupStatsReader<CriProcess>({ layout: layout.layout, procRoot: "/proc", naming: criCgroupNaming });
  const reader = newReader();
  let read = 0;
  let unreadable = 0;
  const bareFiles = async (): Promise<void> => {
    if (!reader.beginTick().ok) throw new Error("/proc/stat is not readable");
    read = 0;
    unreadable = 0;
    for (const [id, process] of processes) {
      if (reader.read(id, process).ok) read++;
      else unreadable++;
    }
  };
  let statsEntries = 0;
  const bareStats = async (): Promise<void> => {
    statsEntries = (await client.containerStats(AbortSignal.timeout(10_000))).length;
  };
  // UNIMPLEMENTED: the adapter stops asking for the pods' network, which is not compared here.
  const port: CriStatsPort = {
    negotiate: (signal) => client.negotiate(signal),
    podSandboxes: (signal) => client.podSandboxes(signal),
    containers: (signal) => client.containers(signal),
    containerStatus: (id, verbose, signal) => client.containerStatus(id, verbose, signal),
    containerStats: (signal) => client.containerStats(signal),
    podSandboxStats: async () => Promise.reject(Object.assign(new Error("not measured"), { code: 12 })),
  };
  const adapter = (files: CgroupStatsReader<CriProcess> | undefined) => {
    const runtime = new CriStatsRuntime({
      cri: port,
      timeoutMs: 10_000,
      listMaxAgeMs: 60_000,
      files,
      logger: createLogger({ service: "collector", level: "warn", host: "bench" }),
    });
    const tick = keepingTick();
    return () => runtime.sample(tick);
  };
  const sides = [
    { label: "bare ListContainerStats (decoded)", work: bareStats },
    { label: "bare cgroup files (CgroupStatsReader)", work: bareFiles },
    { label: "CriStatsRuntime.sample, ListContainerStats (api)", work: adapter(undefined) },
    { label: "CriStatsRuntime.sample, cgroup files (auto)", work: adapter(newReader()) },
  ].map((side) => ({ ...side, own: 0, runtime: 0 }));
  const runtimeLast = new Map<number, number>();
  const round = async (work: () => Promise<unknown>) => {
    const runtimeBefore = cpuMsOf(pids, runtimeLast);
    const before = process.cpuUsage();
    const endAt = Date.now() + roundS * 1000;
    while (Date.now() < endAt) {
      const startedAtMs = Date.now();
      await work();
      await sleep(Math.max(0, startedAtMs + POLL_MS - Date.now()));
    }
    const used = process.cpuUsage(before);
    return { own: (used.user + used.system) / 1000, runtime: cpuMsOf(pids, runtimeLast) - runtimeBefore };
  };
  // Warm-up: the adapters list and read each container's status, every cgroup is found and opened.
  for (const side of sides) await side.work();
  for (let index = 0; index < 3; index++) {
    for (const side of sides) {
      const { own, runtime } = await round(side.work);
      side.own += own;
      side.runtime += runtime;
    }
  }
  const ticks = 3 * roundS * (1000 / POLL_MS);
  console.log(
    `\nstats source, the node's CPU: ${processes.size} running containers with a cgroup (ListContainerStats names ${statsEntries}; ${read} read from their files, ${unreadable} not), containerd and ${pids.length - 1} shims, 3 alternating rounds (${3 * roundS} s each side)`,
  );
  console.table(
    sides.map(({ label, own, runtime }) => ({
      source: label,
      "this process ms per tick": Number((own / ticks).toFixed(2)),
      "containerd + shims ms per tick": Number((runtime / ticks).toFixed(2)),
      "node ms per tick": Number(((own + runtime) / ticks).toFixed(2)),
    })),
  );
  const node = (index: number) => (sides[index]?.own ?? 0) + (sides[index]?.runtime ?? 0);
  console.log(
    `cgroup files / ListContainerStats, whole node: bare ${(node(1) / node(0)).toFixed(2)}×, adapter ${(node(3) / node(2)).toFixed(2)}×`,
  );
}
