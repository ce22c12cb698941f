// The collector benchmark's containerd column, on the tests' own containerd
// (CROWSNEST_TEST_CONTAINERD_SOCKET; skipped without one): busybox containers made with `ctr` in a
// namespace of this run (50 idle, 5 busy loops capped at 0.05 core each, as the Docker column), all in one network
// namespace with a veth interface so network counters are read as on a real host. Side by side,
// tick by tick: (e) the collector through cgroup files, (e2) the same without publishing, (f) a
// bare loop reading the same files with readFileSync, (f2) one reading them through kept
// descriptors; then (g) the collector through Tasks.Metrics alone, (g2) the same without
// publishing, (h) a bare loop of Tasks.Metrics calls, one per container in parallel, and (h2) one
// call for the whole namespace. Everything it makes is removed by name, also on failure.
import { execFile } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createLogger } from "@crowsnest/shared";
import { ContainerdClient } from "@crowsnest/shared/containerd";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { connect } from "@nats-io/transport-node";
import { setUpCgroupReader } from "../../../services/collector/src/cgroup/file-reader-setup.ts";
import { StatsSampler } from "../../../services/collector/src/core/stats-sampler.ts";
import { StatsPublisher } from "../../../services/collector/src/publishing/stats-publisher.ts";
import { containerdCgroupNaming } from "../../../services/collector/src/runtimes/containerd/containerd-runtime.ts";
import { ContainerdStatsRuntime } from "../../../services/collector/src/runtimes/containerd/containerd-stats-runtime.ts";
import { deleteTestStreams } from "../../support/bus-fixtures.ts";
import * as bench from "./tick-phases.ts";

const IMAGE = `docker.io/${process.env.CROWSNEST_TEST_WORKLOAD_IMAGE || "crowsnest-test/busybox:1"}`;
const NATS_URL = process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
const IDLE = 50;
const BUSY = 5;
const FILE_ROUNDS = 40;
const API_ROUNDS = 10;
const run = promisify(execFile);

export async function containerdColumn(runId: string): Promise<void> {
  const socket = process.env.CROWSNEST_TEST_CONTAINERD_SOCKET ?? "";
  if (socket === "" || !existsSync(socket)) {
    console.log(
      "\ncontainerd column: skipped (no test containerd: CROWSNEST_TEST_CONTAINERD_SOCKET unset or not there)",
    );
    return;
  }
  const namespace = `crowsnest-bench-${runId}`;
  const netns = `crowsnest-${runId}`;
  const hostVeth = `cb${runId.slice(-6)}h`;
  const ctr = async (...args: string[]) =>
    (await run("ctr", ["--address", socket, "--namespace", namespace, ...args])).stdout;
  const ids = [
    ...Array.from({ length: IDLE }, (_, i) => ({ id: `idle-${i}`, busy: false })),
    ...Array.from({ length: BUSY }, (_, i) => ({ id: `busy-${i}`, busy: true })),
  ];
  try {
    console.log(`\ncontainerd column: ${IDLE} idle and ${BUSY} busy containers in namespace ${namespace}…`);
    const archive = mkdtempSync(join(tmpdir(), "crowsnest-bench-"));
    try {
      await run("ctr", [
        "--address",
        socket,
        "--namespace",
        "default",
        "images",
        "export",
        join(archive, "image.tar"),
        IMAGE,
      ]);
      await ctr("images", "import", join(archive, "image.tar"));
    } finally {
      rmSync(archive, { recursive: true, force: true });
    }
    await run("ip", ["netns", "add", netns]);
    await run("ip", ["link", "add", hostVeth, "type", "veth", "peer", "name", `cb${runId.slice(-6)}c`]);
    await run("ip", ["link", "set", `cb${runId.slice(-6)}c`, "netns", netns]);
    await run("ip", ["-n", netns, "link", "set", `cb${runId.slice(-6)}c`, "up"]);
    await forEachBounded(ids, 4, async ({ id, busy }) => {
      const script = busy ? "while :; do :; done" : "sleep 3600";
      const cap = busy ? ["--cpus", "0.05"] : [];
      await ctr(
        "run",
        "-d",
        ...cap,
        "--with-ns",
        `network:/var/run/netns/${netns}`,
        IMAGE,
        id,
        "sh",
        "-c",
        script,
      );
    });
    await measure(socket, namespace, runId);
  } finally {
    for (const { id } of ids) {
      await ctr("tasks", "kill", "--signal", "SIGKILL", id).catch(() => undefined);
      await ctr("tasks", "delete", "--force", id).catch(() => undefined);
      await ctr("containers", "delete", id).catch(() => undefined);
    }
    await ctr("images", "rm", IMAGE).catch(() => undefined);
    const content = await ctr("content", "ls", "--quiet").catch(() => "");
    for (const digest of content.split("\n").filter(Boolean))
      await ctr("content", "rm", digest).catch(() => undefined);
    await removeNamespace(socket, namespace);
    await run("ip", ["netns", "delete", netns]).catch(() => undefined);
    await run("ip", ["link", "delete", hostVeth]).catch(() => undefined);
  }
}

/** containerd removes a deleted container's snapshots in the background: the namespace is empty only once it has. */
async function removeNamespace(socket: string, namespace: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await run("ctr", ["--address", socket, "namespaces", "rm", namespace]);
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        console.log(`namespace ${namespace} left behind: ${(error as Error).message.slice(0, 300)}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function measure(socket: string, namespace: string, runId: string): Promise<void> {
  const client = new ContainerdClient({ socketPath: socket });
  const quiet = createLogger({ service: "collector", level: "error" });
  const nc = await connect({ servers: NATS_URL, name: `crowsnest-${runId}-containerd` });
  const prefix = `${runId}-ctrd`;
  const subjects = await bench.benchStreams(nc, prefix, quiet);
  const { acks, queue } = bench.benchPublishQueue(nc, quiet);
  const phases: bench.Phase[] = [];
  try {
    const tasks = (await client.tasks(namespace, AbortSignal.timeout(10_000))).filter(
      (task) => task.status === "RUNNING",
    );
    const files = setUpCgroupReader({
      source: "auto",
      cgroupRoot: "/sys/fs/cgroup",
      procRoot: "/proc",
      naming: containerdCgroupNaming,
      apiName: "containerd's Metrics API",
      logger: quiet,
    });
    if (files === undefined) throw new Error("cgroup files not readable here; nothing to compare");
    const sampler = (variant: { files: boolean; publish: boolean }) => {
      const collector = new StatsSampler({
        runtime: new ContainerdStatsRuntime({
          containerd: client,
          namespaces: [namespace],
          timeoutMs: 10_000,
          files: variant.files ? files : undefined,
          procRoot: "/proc",
          logger: quiet,
        }),
        sink: variant.publish ? new StatsPublisher({ queue, subjects }) : bench.discardingSink,
        host: runId,
        intervalMs: 60_000,
        logger: quiet,
      });
      return bench.timedTick(() => collector.tick(), queue);
    };
    const benchContainers: bench.BenchContainer[] = tasks.map((task) => ({
      cgroup: `${namespace}/${task.containerId}`,
      pid: task.pid,
    }));
    const kept = bench.openBenchFiles(benchContainers);
    phases.push(
      ...(await bench.interleaved(FILE_ROUNDS, tasks.length, [
        { name: "(e) collector, cgroup files", tick: sampler({ files: true, publish: true }) },
        { name: "(e2) same, samples not published", tick: sampler({ files: true, publish: false }) },
        { name: "(f) bare cgroup file reads", tick: () => bench.bareFileReads(benchContainers) },
        { name: "(f2) same files, kept open (pread)", tick: () => bench.bareKeptReads(kept) },
      ])),
    );
    for (const fd of kept.flat()) closeSync(fd);
    const timeout = () => AbortSignal.timeout(10_000);
    phases.push(
      ...(await bench.interleaved(API_ROUNDS, tasks.length, [
        { name: "(g) collector, Tasks.Metrics only", tick: sampler({ files: false, publish: true }) },
        { name: "(g2) same, samples not published", tick: sampler({ files: false, publish: false }) },
        {
          name: "(h) bare Tasks.Metrics, one call per container",
          tick: () =>
            Promise.all(
              tasks.map((task) => client.metrics(namespace, [`id==${task.containerId}`], timeout())),
            ),
        },
        {
          name: "(h2) bare Tasks.Metrics, one call for all",
          tick: () => client.metrics(namespace, [], timeout()),
        },
      ])),
    );
  } finally {
    await queue.stop(5000);
    acks.close();
    client.close();
    await deleteTestStreams(nc, prefix);
    await nc.close();
  }
  report(phases);
}

function report(phases: readonly bench.Phase[]): void {
  const rows = phases.map(bench.phaseRow);
  console.log(
    `\ncontainerd: collector tick cost, ${phases[0]?.samplesPerTick ?? 0} containers (daemon = dockerd + containerd + shims; medians per tick, daemon summed over all ticks)`,
  );
  console.table(rows);
  const byName = (prefix: string) => rows.find((row) => row.approach.startsWith(`${prefix} `));
  const [e, f, f2, g, g2, h, h2] = ["(e)", "(f)", "(f2)", "(g)", "(g2)", "(h)", "(h2)"].map(byName);
  if (!e || !f || !f2 || !g || !g2 || !h || !h2) return;
  const cpu = "node CPU ms/sample";
  const total = "total CPU ms/sample";
  console.table(
    bench.targetRows([
      ["(e) node CPU/sample ≤ 1.5× (f)", e[cpu], f[cpu]],
      ["(e) node CPU/sample vs (f2), same read technique (no target)", e[cpu], f2[cpu]],
      [
        "(g) node CPU/sample vs (h), Metrics fallback vs bare per-container calls (no target)",
        g[cpu],
        h[cpu],
      ],
      ["(g2) node CPU/sample vs (h2), one call per namespace either way (no target)", g2[cpu], h2[cpu]],
      ["(g)/(e) total CPU/sample incl. daemons (no target)", g[total], e[total]],
    ]),
  );
}
