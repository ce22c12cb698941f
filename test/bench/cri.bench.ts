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
// 3. Stats path: the collector's CRI adapter (CriStatsRuntime.sample, its readings handed to a
//    sink that keeps them) against a bare loop of the same calls (ListContainerStats every tick,
//    ListPodSandboxStats whenever none is in flight), in this process, in alternating rounds of
//    WINDOW_S / 3 seconds, one tick a second. Target: ≤ 1.5 ×. Then, for scale, the whole
//    collector (main.ts, publishing to NATS) beside a bare loop process.
//
// Measures and prints; asserts nothing. Every pod it makes is removed, with its cgroup.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { codecs, createLogger, createSubjects } from "@crowsnest/shared";
import { CriClient } from "@crowsnest/shared/cri";
import { CriTestDriver, type TestPod } from "@crowsnest/shared/cri/testing";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { connect } from "@nats-io/transport-node";
import type { ContainerReading } from "../../services/collector/src/core/container-reading.ts";
import type { SamplingTick } from "../../services/collector/src/core/stats-runtime.ts";
import { CriStatsRuntime } from "../../services/collector/src/runtimes/cri/cri-stats-runtime.ts";
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
    const previous = new Map<string, ContainerReading>();
    const tick: SamplingTick = {
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
    const round = async (work: () => Promise<unknown>): Promise<number> => {
      const before = process.cpuUsage();
      const endAt = Date.now() + (WINDOW_S / 3) * 1000;
      while (Date.now() < endAt) {
        const startedAtMs = Date.now();
        await work();
        await sleep(Math.max(0, startedAtMs + POLL_MS - Date.now()));
      }
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000;
    };
    await round(() => statsRuntime.sample(tick)); // warm-up: lists, statuses, JIT
    let adapterMs = 0;
    let bareMs = 0;
    for (let index = 0; index < 3; index++) {
      adapterMs += await round(() => statsRuntime.sample(tick));
      bareMs += await round(bareTick);
    }
    const running = (await client.containerStats(AbortSignal.timeout(10_000))).length;
    const ticks = WINDOW_S * (1000 / POLL_MS);
    console.log(
      `\nstats path in this process, ${running} containers in the stats, 3 alternating rounds (${WINDOW_S} s each side); target: adapter ≤ 1.5 × bare`,
    );
    console.table([
      {
        reader: "CriStatsRuntime.sample",
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
        { label: "collector (main.ts, publishing)", child: collector },
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
