// The collector's CPU burst by burst (issue #22): which wake-ups between and within its ticks cost
// what, and when they come. Runs the collector as compose runs it (this tree's bundle, compose's
// Node flags, CROWSNEST_STATS_SOURCE=auto) on idle and busy busybox containers (the last three
// busy, as in the peer bench) and reads its threads' CPU time (`/proc/<pid>/task/*/schedstat`,
// nanoseconds) every 50 ms. At intervals of seconds the collector is idle most of the time, so
// CPU spent between two quiet stretches of 200 ms is one wake-up's (a tick with the reading of its
// acknowledgements, a timer, a collection); each is printed as a line: seconds since the
// collector started, CPU ms. Then the totals after the first `warmUpS` seconds, by where in the
// interval each burst began (the tick's first second, or elsewhere).
//
//   node --conditions=crowsnest-source test/bench/support/tick-cpu-trace.ts [intervalMs] [seconds] [containers] [warmUpS]
//
// Defaults: 10 000 ms, 720 s, 53 containers, 300 s. CROWSNEST_PROFILE_NODE_FLAGS adds Node flags
// to the collector's. Needs NATS (CROWSNEST_TEST_NATS_URL) and the busybox test image
// (CROWSNEST_TEST_WORKLOAD_IMAGE); the containers and streams it creates are removed. Polling
// costs this process CPU, not the collector; run it alone (cpu-exclusive) for figures.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createSubjects, DEFAULT_STREAM_RETENTION, streamDefinitions } from "@crowsnest/shared";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import Docker from "dockerode";
import { parse } from "yaml";
import { benchCollectorEnv, buildAgentsAsImage } from "./service-memory.ts";

const IMAGE = process.env.CROWSNEST_TEST_WORKLOAD_IMAGE || "crowsnest-test/busybox:1";
const NATS_URL = process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
const LABEL = "dev.crowsnest.bench";
const BUSY = 3;
const POLL_MS = 50;
/** Polls without CPU that end a burst. */
const QUIET_POLLS = 4;

const [intervalMs = 10_000, seconds = 720, containers = 53, warmUpS = 300] = process.argv
  .slice(2)
  .map((argument) => Number(argument));
const extraNodeFlags = (process.env.CROWSNEST_PROFILE_NODE_FLAGS ?? "")
  .split(" ")
  .filter((flag) => flag !== "");
const root = new URL("../../../", import.meta.url).pathname;
const compose = parse(readFileSync(`${root}docker-compose.yml`, "utf8"), { merge: true }) as {
  services: { collector: { command: string[] } };
};
const composeFlags = compose.services.collector.command.slice(1, -1).map(String);
const runId = `tickcpu-${Date.now().toString(36)}`;
const docker = new Docker();
const built = await buildAgentsAsImage(root);
try {
  await forEachBounded(
    Array.from({ length: containers }, (_, index) => index),
    6,
    async (index) => {
      const busy = index >= containers - BUSY;
      const container = await docker.createContainer({
        Image: IMAGE,
        Cmd: ["/bin/sh", "-c", busy ? "while :; do :; done" : "sleep 36000"],
        Labels: { [LABEL]: runId, "dev.crowsnest.test": "1" },
        HostConfig: { NetworkMode: "bridge", ...(busy ? { NanoCpus: 50_000_000 } : {}) },
      });
      await container.start();
    },
  );
  const child = spawn(process.execPath, [...composeFlags, ...extraNodeFlags, built.entry("collector")], {
    env: { ...benchCollectorEnv(NATS_URL, runId, intervalMs), CROWSNEST_STATS_SOURCE: "auto" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const cpuNs = () => {
    let total = 0;
    for (const task of readdirSync(`/proc/${child.pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${child.pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    return total;
  };
  const startedAtMs = Date.now();
  const bursts: { atS: number; cpuMs: number }[] = [];
  let last = cpuNs();
  let burstNs = 0;
  let burstAtMs = 0;
  let quietPolls = 0;
  while (Date.now() - startedAtMs < seconds * 1000) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const now = cpuNs();
    const spent = now - last;
    last = now;
    if (spent > 0) {
      if (burstNs === 0) burstAtMs = Date.now() - POLL_MS;
      burstNs += spent;
      quietPolls = 0;
    } else if (burstNs > 0 && ++quietPolls >= QUIET_POLLS) {
      const burst = { atS: (burstAtMs - startedAtMs) / 1000, cpuMs: burstNs / 1e6 };
      bursts.push(burst);
      console.log(`${burst.atS.toFixed(1)}\t${burst.cpuMs.toFixed(2)}`);
      burstNs = 0;
    }
  }
  child.kill("SIGTERM");
  // The tick's second: the first burst is at the collector's start, and so is every tick after it.
  const firstS = bursts[0]?.atS ?? 0;
  const measured = bursts.filter((burst) => burst.atS >= warmUpS);
  const atTick = measured.filter((burst) => (burst.atS - firstS) % (intervalMs / 1000) < 1);
  const sum = (list: { cpuMs: number }[]) => list.reduce((total, burst) => total + burst.cpuMs, 0);
  const spanS = seconds - warmUpS;
  const samples = (spanS / (intervalMs / 1000)) * containers;
  console.log(
    `after ${warmUpS} s, over ${spanS} s: ${(sum(measured) / spanS).toFixed(3)} ms/s, ` +
      `${(sum(measured) / samples).toFixed(4)} ms per container-sample; ` +
      `bursts in the tick's first second ${atTick.length} (${sum(atTick).toFixed(1)} ms), ` +
      `elsewhere ${measured.length - atTick.length} (${(sum(measured) - sum(atTick)).toFixed(1)} ms)`,
  );
} finally {
  const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${runId}`] } });
  await forEachBounded(left, 8, (entry) =>
    docker
      .getContainer(entry.Id)
      .remove({ force: true })
      .catch(() => undefined),
  );
  built.cleanup();
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  for (const { config } of streamDefinitions(createSubjects(runId), DEFAULT_STREAM_RETENTION)) {
    await jsm.streams.delete(config.name).catch(() => undefined);
  }
  await nc.close();
}
