// Profiles the real collector (its sources as the image runs them, plain JavaScript) on this
// machine's dockerd: starts idle busybox containers, runs the collector with `node --cpu-prof`
// at the given interval, and prints its CPU per second and its threads' wake-ups per second (a run
// without the profiler), and the functions with the most self time (a profiled run), each over
// the run after a warm-up (start-up left out).
//
//   node --conditions=crowsnest-source test/bench/support/collector-profile.ts [intervalMs] [seconds] [containers]
//
// Defaults: 10 000 ms, 120 s per run (two runs), 50 containers. CROWSNEST_PROFILE_NODE_FLAGS adds
// Node flags to the collector's command line (to try V8 settings). Needs NATS (CROWSNEST_TEST_NATS_URL) and the busybox
// test image (CROWSNEST_TEST_WORKLOAD_IMAGE). Every container and stream it creates is removed.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSubjects, DEFAULT_STREAM_RETENTION, streamDefinitions } from "@crowsnest/shared";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import Docker from "dockerode";
import { summarizeCpuProfile } from "./cpu-profile-summary.ts";
import { benchCollectorEnv, buildStrippedCopy } from "./service-memory.ts";

const IMAGE = process.env.CROWSNEST_TEST_WORKLOAD_IMAGE || "crowsnest-test/busybox:1";
const NATS_URL = process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
const LABEL = "dev.crowsnest.bench";
const CLOCK_TICKS_PER_SECOND = 100;

const [intervalMs = 10_000, seconds = 120, containers = 50] = process.argv
  .slice(2)
  .map((argument) => Number(argument));
// Two intervals (at least 15 s) for start-up, the first list and the first inspects.
const warmUpMs = Math.max(15_000, 2 * intervalMs);

/** Node flags to try on the collector, e.g. `--single-threaded-gc`. */
const extraNodeFlags = (process.env.CROWSNEST_PROFILE_NODE_FLAGS ?? "")
  .split(" ")
  .filter((flag) => flag !== "");

const runId = `profile-${Date.now().toString(36)}`;
const docker = new Docker();
const built = buildStrippedCopy();
const profileDir = mkdtempSync(join(tmpdir(), "crowsnest-cpu-prof-"));
try {
  console.log(`starting ${containers} idle containers…`);
  await forEachBounded(
    Array.from({ length: containers }, (_, index) => index),
    6,
    async () => {
      const container = await docker.createContainer({
        Image: IMAGE,
        Cmd: ["/bin/sh", "-c", "sleep 3600"],
        Labels: { [LABEL]: runId, "dev.crowsnest.test": "1" },
        HostConfig: { NetworkMode: "bridge" },
      });
      await container.start();
    },
  );
  // Twice: without the profiler for CPU and wake-ups (its sampling thread wakes the process a
  // thousand times a second, which would swamp both), then with it for where the time goes.
  for (const profiled of [false, true]) {
    const measured = await runCollector(profiled);
    const perSecond = (value: number) => Number(((value * 1000) / measured.windowMs).toFixed(2));
    if (!profiled) {
      console.log(
        `\ncollector, ${containers} idle containers (+ whatever else runs on this dockerd), interval ${intervalMs} ms, over ${measured.windowMs / 1000} s, not profiled:`,
      );
      console.log(`CPU ${perSecond(measured.cpuMs)} ms per second (/proc/<pid>/stat, 10 ms resolution)`);
      console.table(
        [...measured.wakeUps].map(([thread, count]) => ({ thread, "wake-ups per second": perSecond(count) })),
      );
      continue;
    }
    const [profileFile] = readdirSync(profileDir).filter((file) => file.endsWith(".cpuprofile"));
    if (profileFile === undefined) throw new Error("the collector wrote no profile");
    const summary = summarizeCpuProfile(readFileSync(join(profileDir, profileFile), "utf8"), warmUpMs);
    console.log(
      `\nprofiled run: the main thread busy ${perSecond(summary.busyMs)} ms per second, of which ${perSecond(summary.programMs)} (program) and ${perSecond(summary.garbageCollectorMs)} (garbage collector); top self time:`,
    );
    console.table(
      summary.rows.slice(0, 25).map((row) => ({
        function: row.function,
        where: row.where,
        "self ms per minute": Number(((row.selfMs * 60_000) / measured.windowMs).toFixed(2)),
      })),
    );
  }
} finally {
  rmSync(profileDir, { recursive: true, force: true });
  built.cleanup();
  const leftovers = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${runId}`] } });
  await forEachBounded(leftovers, 8, (entry) =>
    docker
      .getContainer(entry.Id)
      .remove({ force: true })
      .catch(() => undefined),
  );
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  for (const { config } of streamDefinitions(createSubjects(runId), DEFAULT_STREAM_RETENTION)) {
    await jsm.streams.delete(config.name).catch(() => undefined);
  }
  await nc.close();
}

/** Runs the collector through warm-up and the measured window; its CPU and wake-ups over the window. */
async function runCollector(
  profiled: boolean,
): Promise<{ windowMs: number; cpuMs: number; wakeUps: Map<string, number> }> {
  const child = spawn(
    process.execPath,
    [
      ...extraNodeFlags,
      ...(profiled ? ["--cpu-prof", "--cpu-prof-interval=250", `--cpu-prof-dir=${profileDir}`] : []),
      join(built.dir, "collector", "src", "main.js"),
    ],
    {
      env: benchCollectorEnv(NATS_URL, runId, intervalMs),
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error("the collector did not start");
  console.log(
    `collector at ${intervalMs} ms${profiled ? ", profiled" : ""}, for ${seconds} s (the first ${warmUpMs / 1000} s left out)…`,
  );
  await new Promise((resolve) => setTimeout(resolve, warmUpMs));
  const cpuBefore = cpuTicks(pid);
  const wakeUpsBefore = wakeUps(pid);
  const windowMs = seconds * 1000 - warmUpMs;
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const cpuMs = ((cpuTicks(pid) - cpuBefore) * 1000) / CLOCK_TICKS_PER_SECOND;
  const wakeUpsAfter = wakeUps(pid);
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
  for (const [thread, after] of wakeUpsAfter)
    wakeUpsAfter.set(thread, after - (wakeUpsBefore.get(thread) ?? 0));
  return { windowMs, cpuMs, wakeUps: wakeUpsAfter };
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Voluntary context switches per thread name: each is a thread going back to sleep after a wake-up. */
function wakeUps(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, "utf8");
      const name = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? task;
      const switches = Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1] ?? 0);
      byName.set(name, (byName.get(name) ?? 0) + switches);
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return byName;
}
