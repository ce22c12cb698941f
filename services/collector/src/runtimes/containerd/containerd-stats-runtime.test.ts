import type { StatsMessage } from "@crowsnest/shared";
import type { ContainerdContainer, ContainerdMetric, ContainerdTask } from "@crowsnest/shared/containerd";
import { afterEach, describe, expect, it } from "vitest";
import type { ContainerFileReader, FileReadResult } from "../../cgroup/cgroup-stats-reader.ts";
import type { StatsReading } from "../../cgroup/stats-counters.ts";
import { StatsSampler } from "../../core/stats-sampler.ts";
import { captureLogger, linesWith } from "../../fixtures/capture-logger.ts";
import { type FileTree, fileTree, procStat } from "../../procfs/fixtures/file-tree.ts";
import type { ContainerdProcess } from "./containerd-reading.ts";
import { type ContainerdPort, ContainerdStatsRuntime } from "./containerd-stats-runtime.ts";
import { CAPTURED_BUSY_V1, containerWith } from "./fixtures/containerd-fixtures.ts";

const trees: FileTree[] = [];
afterEach(() => {
  for (const tree of trees.splice(0)) tree.cleanup();
});

/** A /proc with only /proc/stat (two CPUs): network counters of containers read through Metrics are not there. */
function procRoot(): string {
  const tree = fileTree({ stat: procStat(1_000_000_000_000, 2) });
  trees.push(tree);
  return tree.root;
}

const task = (
  containerId: string,
  pid: number,
  status: ContainerdTask["status"] = "RUNNING",
): ContainerdTask => ({
  containerId,
  pid,
  status,
  exitStatus: 0,
  exitedAt: undefined,
});

/** containerd as the runtime sees it: namespaces, their containers and tasks, Metrics by id. */
class FakeContainerd implements ContainerdPort {
  namespaceList = ["default"];
  containersOf = new Map<string, ContainerdContainer[]>();
  tasksOf = new Map<string, ContainerdTask[]>();
  metricsById = new Map<string, ContainerdMetric>();
  down = false;
  readonly calls: string[] = [];

  async namespaces(): Promise<string[]> {
    this.calls.push("namespaces");
    if (this.down) throw new Error("connect ENOENT /run/containerd/containerd.sock");
    return this.namespaceList;
  }
  async containers(namespace: string): Promise<ContainerdContainer[]> {
    this.calls.push(`containers ${namespace}`);
    return this.containersOf.get(namespace) ?? [];
  }
  async tasks(namespace: string): Promise<ContainerdTask[]> {
    this.calls.push(`tasks ${namespace}`);
    if (this.down) throw new Error("connect ENOENT /run/containerd/containerd.sock");
    return this.tasksOf.get(namespace) ?? [];
  }
  async metrics(namespace: string, filters: readonly string[]): Promise<ContainerdMetric[]> {
    this.calls.push(`metrics ${namespace} ${filters.join(" ")}`);
    return filters.flatMap((filter) => {
      const metric = this.metricsById.get(`${namespace}/${filter.slice("id==".length)}`);
      return metric === undefined ? [] : [metric];
    });
  }
}

/** Cgroup files with a CPU counter per container key; a key without one is not readable. */
class FakeFiles implements ContainerFileReader<ContainerdProcess> {
  readonly cpuNs = new Map<string, number>();
  readonly reads: { key: string; pid: number; cgroupPath: string }[] = [];
  nowMs = 1_000_000;

  beginTick(): { readonly ok: true } {
    return { ok: true };
  }
  read(key: string, process: ContainerdProcess): FileReadResult {
    this.reads.push({ key, pid: process.pid, cgroupPath: process.record.cgroupPath });
    const cpu = this.cpuNs.get(key);
    if (cpu === undefined) return { ok: false, detail: "no cgroup directory found for the container" };
    const reading: StatsReading = {
      readAtMs: this.nowMs,
      cpuTotalNs: cpu,
      systemCpuNs: null,
      onlineCpus: 2,
      memUsedBytes: 1024,
      netRxBytes: 10,
      netTxBytes: 20,
      blkReadBytes: 0,
      blkWriteBytes: 0,
      pids: this.pids.get(key) ?? 1,
    };
    return { ok: true, reading };
  }
  /** What cgroupEntries() answers; undefined: it cannot tell (the task list is fetched every tick). */
  entries: Set<string> | undefined;
  readonly pids = new Map<string, number>();

  containerIds(): undefined {
    return undefined;
  }
  cgroupEntries(): ReadonlySet<string> | undefined {
    return this.entries === undefined ? undefined : new Set(this.entries);
  }
  retainOnly(): void {}
}

function setUp(options: { files?: FakeFiles; namespaces?: string[]; listMaxAgeMs?: number } = {}) {
  const containerd = new FakeContainerd();
  const published: StatsMessage[] = [];
  const { logger, lines } = captureLogger();
  let nowMs = 0;
  const runtime = new ContainerdStatsRuntime({
    containerd,
    namespaces: options.namespaces,
    timeoutMs: 1000,
    files: options.files,
    procRoot: procRoot(),
    ...(options.listMaxAgeMs === undefined ? {} : { listMaxAgeMs: options.listMaxAgeMs }),
    now: () => nowMs,
    logger,
  });
  const sampler = new StatsSampler({
    runtime,
    sink: {
      publish: (message) => {
        published.push(message);
        return { status: "published" };
      },
    },
    host: "edge-1",
    intervalMs: 10_000,
    logger,
  });
  return {
    containerd,
    runtime,
    sampler,
    published,
    lines,
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

describe("ContainerdStatsRuntime", () => {
  it("reads running tasks from their cgroup files and the others through one Metrics call per namespace", async () => {
    const files = new FakeFiles();
    const { containerd, sampler, published } = setUp({ files });
    containerd.namespaceList = ["default", "moby", "k8s.io", "team"];
    containerd.containersOf.set("default", [
      containerWith("fast", { cgroupsPath: "/default/fast" }, { "nerdctl/name": "web" }),
      containerWith("slow", {}),
      containerWith("done", {}),
    ]);
    containerd.containersOf.set("team", [containerWith("cncol-probe3", {})]);
    containerd.tasksOf.set("default", [task("fast", 100), task("slow", 101), task("done", 0, "STOPPED")]);
    containerd.tasksOf.set("team", [task("cncol-probe3", 200)]);
    containerd.metricsById.set("default/slow", { ...CAPTURED_BUSY_V1, containerId: "slow" });
    containerd.metricsById.set("team/cncol-probe3", CAPTURED_BUSY_V1);
    files.cpuNs.set("fast", 5_000_000);

    const summary = await sampler.tick();

    expect(summary).toMatchObject({ containers: 3, viaFiles: 1, viaMetrics: 2, published: 3, namespaces: 2 });
    expect(published.map((message) => [message.runtime, message.container])).toEqual([
      ["containerd", { external_id: "fast", name: "web" }],
      ["containerd", { external_id: "slow", name: "slow" }],
      ["containerd", { external_id: "team/cncol-probe3", name: "cncol-probe3" }],
    ]);
    expect(files.reads).toContainEqual({ key: "fast", pid: 100, cgroupPath: "default/fast" });
    // Docker's and Kubernetes' namespaces are left to those runtimes.
    expect(containerd.calls.filter((call) => /moby|k8s\.io/.test(call))).toEqual([]);
    expect(containerd.calls).toContain("metrics default id==slow");
    expect(containerd.calls).toContain("metrics team id==cncol-probe3");
    // From the captured Metrics answer; the CPU count from the host's /proc/stat.
    expect(published[2]).toMatchObject({ mem_used: 757760, pids: 1, online_cpus: 2, blk_read_bytes: 0 });
  });

  it("reads only the configured namespaces, without listing them", async () => {
    const { containerd, sampler, published } = setUp({ namespaces: ["k8s.io"] });
    containerd.containersOf.set("k8s.io", [containerWith("pause", {})]);
    containerd.tasksOf.set("k8s.io", [task("pause", 300)]);
    containerd.metricsById.set("k8s.io/pause", { ...CAPTURED_BUSY_V1, containerId: "pause" });

    await sampler.tick();

    expect(containerd.calls).not.toContain("namespaces");
    expect(published.map((message) => message.container.external_id)).toEqual(["k8s.io/pause"]);
  });

  it("lists container records again only for a task they lack, or once they are old", async () => {
    const files = new FakeFiles();
    const { containerd, sampler, advance } = setUp({ files, listMaxAgeMs: 60_000 });
    containerd.containersOf.set("default", [containerWith("a", {})]);
    containerd.tasksOf.set("default", [task("a", 100)]);
    files.cpuNs.set("a", 1);
    const listings = () => containerd.calls.filter((call) => call.startsWith("containers")).length;

    await sampler.tick();
    await sampler.tick();
    expect(listings()).toBe(1);
    containerd.containersOf.set("default", [containerWith("a", {}), containerWith("b", {})]);
    containerd.tasksOf.set("default", [task("a", 100), task("b", 101)]);
    await sampler.tick();
    expect(listings()).toBe(2);
    advance(60_000);
    await sampler.tick();
    expect(listings()).toBe(3);
  });

  it("reuses the task list while the cgroups stay the same; a new cgroup, an emptied one or age list again", async () => {
    const files = new FakeFiles();
    files.entries = new Set(["/default", "default/a"]);
    const { containerd, sampler, advance, published } = setUp({
      files,
      namespaces: ["default"],
      listMaxAgeMs: 60_000,
    });
    containerd.containersOf.set("default", [containerWith("a", {}), containerWith("b", {})]);
    containerd.tasksOf.set("default", [task("a", 100)]);
    files.cpuNs.set("a", 1);
    files.cpuNs.set("b", 1);
    const taskLists = () => containerd.calls.filter((call) => call.startsWith("tasks")).length;

    // The first list shows which directories to watch; the second is the first taken after watching them.
    expect(await sampler.tick()).toMatchObject({ listed: true, published: 1 });
    expect(await sampler.tick()).toMatchObject({ listed: true, published: 1 });
    expect(await sampler.tick()).toMatchObject({ listed: false, published: 1 });
    expect(taskLists()).toBe(2);
    // A new container's cgroup.
    containerd.tasksOf.set("default", [task("a", 100), task("b", 101)]);
    files.entries.add("default/b");
    expect(await sampler.tick()).toMatchObject({ listed: true, published: 2 });
    // b's task exited and waits to be deleted: its cgroup is still there, empty.
    files.pids.set("b", 0);
    expect(await sampler.tick()).toMatchObject({ listed: false, published: 1, gone: 1 });
    containerd.tasksOf.set("default", [task("a", 100), task("b", 0, "STOPPED")]);
    expect(await sampler.tick()).toMatchObject({ listed: true, published: 1, gone: 0 });
    expect(published.at(-1)?.container.external_id).toBe("a");
    advance(60_000);
    expect(await sampler.tick()).toMatchObject({ listed: true });
    expect(taskLists()).toBe(5);
  });

  it("lists again while a task is being created or a namespace's cgroup has no task yet, for at most 30 s", async () => {
    const files = new FakeFiles();
    files.entries = new Set(["default/a"]);
    const { containerd, sampler, advance } = setUp({ files, namespaces: ["default"] });
    containerd.containersOf.set("default", [containerWith("a", {}), containerWith("b", {})]);
    containerd.tasksOf.set("default", [task("a", 100)]);
    files.cpuNs.set("a", 1);
    files.cpuNs.set("b", 1);
    await sampler.tick();
    expect(await sampler.tick()).toMatchObject({ listed: true });
    expect(await sampler.tick()).toMatchObject({ listed: false });
    // runc made b's cgroup; containerd lists its task as created, then not at all (a race), then running.
    files.entries.add("default/b");
    containerd.tasksOf.set("default", [task("a", 100), task("b", 101, "CREATED")]);
    expect(await sampler.tick()).toMatchObject({ listed: true, published: 1 });
    containerd.tasksOf.set("default", [task("a", 100)]);
    expect(await sampler.tick()).toMatchObject({ listed: true, published: 1 });
    containerd.tasksOf.set("default", [task("a", 100), task("b", 101)]);
    expect(await sampler.tick()).toMatchObject({ listed: true, published: 2 });
    expect(await sampler.tick()).toMatchObject({ listed: false, published: 2 });
    // A cgroup that never gets a task (not containerd's) stops causing lists after 30 s.
    files.entries.add("default/stray");
    expect(await sampler.tick()).toMatchObject({ listed: true });
    expect(await sampler.tick()).toMatchObject({ listed: true });
    advance(30_000);
    expect(await sampler.tick()).toMatchObject({ listed: true });
    expect(await sampler.tick()).toMatchObject({ listed: false });
  });

  it("starts CPU over when a container's task has another PID (a new run)", async () => {
    const files = new FakeFiles();
    const { containerd, sampler, published } = setUp({ files });
    containerd.containersOf.set("default", [containerWith("a", {})]);
    containerd.tasksOf.set("default", [task("a", 100)]);
    const tickAt = async (cpuNs: number) => {
      files.cpuNs.set("a", cpuNs);
      files.nowMs += 10_000;
      await sampler.tick();
      return published.at(-1)?.cpu_percent;
    };

    expect(await tickAt(1e9)).toBeNull();
    // 5 s of CPU in 10 s: half a core.
    expect(await tickAt(6e9)).toBeCloseTo(50, 6);
    containerd.tasksOf.set("default", [task("a", 555)]);
    // The counter grew, but it is another run's: no figure rather than a wrong one.
    expect(await tickAt(7e9)).toBeNull();
    expect(await tickAt(8e9)).toBeCloseTo(10, 6);
  });

  it("skips a task Metrics has no entry for as gone, and a namespace whose Metrics call fails as failed", async () => {
    const { containerd, sampler, published } = setUp({ namespaces: ["default", "team"] });
    containerd.containersOf.set("default", [containerWith("exited", {})]);
    containerd.tasksOf.set("default", [task("exited", 100)]);
    containerd.containersOf.set("team", [containerWith("x", {})]);
    containerd.tasksOf.set("team", [task("x", 200)]);
    const metrics = containerd.metrics.bind(containerd);
    containerd.metrics = async (namespace, filters) => {
      if (namespace === "team") throw new Error("deadline exceeded");
      return metrics(namespace, filters);
    };

    expect(await sampler.tick()).toMatchObject({ gone: 1, failed: 1, published: 0 });
    expect(published).toEqual([]);
  });

  it("reports containerd unreachable once, as not connected, and recovers", async () => {
    const { containerd, runtime, sampler, lines } = setUp();
    containerd.down = true;
    await sampler.tick();
    await sampler.tick();
    expect(runtime.connected).toBe(false);
    expect(linesWith(lines, "warn", "containerd unreachable")).toHaveLength(1);
    containerd.down = false;
    await sampler.tick();
    expect(runtime.connected).toBe(true);
    expect(linesWith(lines, "info", "containerd reachable again")).toHaveLength(1);
  });
});
