import { setTimeout as sleep } from "node:timers/promises";
import { codecs, type StatsMessage } from "@crowsnest/shared";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ContainerFileReader, FileReadResult } from "../../cgroup/cgroup-stats-reader.ts";
import type { StatsReading } from "../../cgroup/stats-counters.ts";
import type { PublishResult, StatsSink } from "../../core/stats-sink.ts";
import { captureLogger, linesWith } from "../../fixtures/capture-logger.ts";
import { ManualClock } from "../../fixtures/manual-clock.ts";
import type { ContainerProcess } from "./container-process.ts";
import { ContainerGoneError, type DockerPort } from "./docker-port.ts";
import { type DockerSampler, type DockerSamplerOptions, dockerSampler } from "./fixtures/docker-sampler.ts";
import { cgroupV2Stats, inspectFixture } from "./fixtures/docker-stats-fixtures.ts";

const T0 = Date.parse("2026-11-21T21:00:00.000Z");
const MIB = 1024 * 1024;

/** A container as the fake engine runs it: every stats call reads 10 s later, at half a core of 4. */
class FakeContainer {
  reads = 0;
  cpuTotalNs = 10_000_000_000;
  inspect: unknown = inspectFixture();
  /** Replaces the next answers: a value, or a function that may throw or hang. */
  stats: (() => unknown) | undefined;
  readonly id: string;
  readonly name: string;
  constructor(id: string, name: string) {
    this.id = id;
    this.name = name;
  }

  nextStats(): unknown {
    if (this.stats) return this.stats();
    this.reads += 1;
    this.cpuTotalNs += 5_000_000_000;
    return cgroupV2Stats({
      read: new Date(T0 + this.reads * 10_000).toISOString(),
      cpuTotalNs: this.cpuTotalNs,
      systemCpuNs: 9_000_000_000_000 + this.reads * 40_000_000_000,
    });
  }
}

class FakeDocker implements DockerPort {
  readonly running = new Map<string, FakeContainer>();
  listFailure: Error | undefined;
  listAnswer: (() => unknown) | undefined;
  statsDelayMs = 0;
  readonly inspected: string[] = [];
  lists = 0;
  listsInFlight = 0;
  maxListsInFlight = 0;
  statsInFlight = 0;
  maxStatsInFlight = 0;
  readonly statsCalls: string[] = [];

  add(id: string, name = id): FakeContainer {
    const container = new FakeContainer(id, name);
    this.running.set(id, container);
    return container;
  }

  async listContainers(_signal: AbortSignal): Promise<unknown> {
    this.lists += 1;
    this.listsInFlight += 1;
    this.maxListsInFlight = Math.max(this.maxListsInFlight, this.listsInFlight);
    try {
      await sleep(1);
      if (this.listFailure) throw this.listFailure;
      if (this.listAnswer) return this.listAnswer();
      return [...this.running.values()].map((c) => ({ Id: c.id, Names: [`/${c.name}`], State: "running" }));
    } finally {
      this.listsInFlight -= 1;
    }
  }

  async oneShotStats(id: string, _signal: AbortSignal): Promise<unknown> {
    this.statsCalls.push(id);
    this.statsInFlight += 1;
    this.maxStatsInFlight = Math.max(this.maxStatsInFlight, this.statsInFlight);
    try {
      if (this.statsDelayMs > 0) await sleep(this.statsDelayMs);
      const container = this.running.get(id);
      if (!container) throw new ContainerGoneError(id);
      return await container.nextStats();
    } finally {
      this.statsInFlight -= 1;
    }
  }

  async inspectContainer(id: string, _signal: AbortSignal): Promise<unknown> {
    this.inspected.push(id);
    const container = this.running.get(id);
    if (!container) throw new ContainerGoneError(id);
    return container.inspect;
  }
}

/** Validates like the real publisher, and keeps what it would have sent. */
class FakeSink implements StatsSink {
  readonly messages: StatsMessage[] = [];
  failing = false;
  async publish(message: StatsMessage): Promise<PublishResult> {
    const encoded = codecs.stats.encode(message);
    if (!encoded.ok) return { status: "invalid", detail: encoded.detail };
    if (this.failing) return { status: "failed" };
    this.messages.push(message);
    return { status: "published" };
  }
  of(id: string): StatsMessage[] {
    return this.messages.filter((m) => m.container.external_id === id);
  }
}

const collectors: DockerSampler[] = [];
afterEach(async () => {
  await Promise.all(collectors.splice(0).map((c) => c.stop()));
});

function setup(options: Partial<DockerSamplerOptions> = {}) {
  const docker = new FakeDocker();
  const sink = new FakeSink();
  const { logger, lines } = captureLogger();
  const collector = dockerSampler({
    docker,
    sink,
    host: "node-1",
    intervalMs: 60_000,
    concurrency: 8,
    dockerTimeoutMs: 200,
    logger,
    ...options,
  });
  collectors.push(collector);
  return { docker, sink, lines, collector };
}

describe("the Docker runtime's ticks", () => {
  it("publishes one sample per running container per tick, with CPU from the second tick on", async () => {
    const { docker, sink, collector } = setup();
    docker.add("aaa", "web-1");
    docker.add("bbb", "db").inspect = inspectFixture({ Memory: 64 * MIB, NanoCpus: 500_000_000 });

    expect(await collector.tick()).toMatchObject({ dockerReachable: true, containers: 2, published: 2 });
    await collector.tick();
    await collector.tick();

    expect(sink.of("aaa").map((m) => m.cpu_percent)).toEqual([null, 50, 50]);
    expect(sink.of("aaa")[1]).toMatchObject({
      host: "node-1",
      container: { external_id: "aaa", name: "web-1" },
      interval_ms: 10_000,
      mem_limit: null,
      cpu_limit_cores: null,
    });
    expect(sink.of("bbb")[0]).toMatchObject({ mem_limit: 64 * MIB, cpu_limit_cores: 0.5 });
    // Limits come from the cache after the first inspect.
    expect(docker.inspected.sort()).toEqual(["aaa", "bbb"]);
    expect(collector.connected).toBe(true);
  });

  it("forgets containers that are gone", async () => {
    const { docker, sink, collector } = setup();
    const web = docker.add("aaa");
    await collector.tick();
    docker.running.delete("aaa");
    await collector.tick();
    docker.running.set("aaa", web);
    await collector.tick();
    expect(sink.of("aaa").map((m) => m.cpu_percent)).toEqual([null, null]);
    expect(docker.inspected).toEqual(["aaa", "aaa"]);
  });

  it("starts CPU and rates over after a restart, and inspects the restarted container again", async () => {
    const { docker, sink, collector } = setup();
    const web = docker.add("aaa");
    await collector.tick();
    await collector.tick();
    web.cpuTotalNs = 0;
    await collector.tick();
    await collector.tick();
    expect(sink.of("aaa").map((m) => m.cpu_percent)).toEqual([null, 50, null, 50]);
    expect(docker.inspected).toEqual(["aaa", "aaa"]);
  });

  it("skips a container whose stats fail or hang, samples the others, and logs the trouble once", async () => {
    const { docker, sink, collector, lines } = setup({ dockerTimeoutMs: 50 });
    docker.add("aaa");
    const stuck = docker.add("bbb");
    stuck.stats = () => new Promise(() => undefined);
    const broken = docker.add("ccc");
    broken.stats = () => {
      throw new Error("server error");
    };

    const started = Date.now();
    expect(await collector.tick()).toMatchObject({ containers: 3, published: 1, failed: 2 });
    expect(Date.now() - started).toBeLessThan(1000);
    await collector.tick();
    expect(sink.of("aaa")).toHaveLength(2);
    expect(linesWith(lines, "warn", "could not be sampled")).toHaveLength(1);
    expect(linesWith(lines, "debug", "could not be sampled")).toHaveLength(4);

    stuck.stats = undefined;
    broken.stats = undefined;
    expect(await collector.tick()).toMatchObject({ published: 3, failed: 0 });
    expect(linesWith(lines, "info", "every container sampled again")).toHaveLength(1);
  });

  it("does not count a container removed or stopped since the list as a failure", async () => {
    const { docker, collector, lines } = setup();
    docker.add("aaa");
    docker.add("bbb").stats = () => {
      throw new ContainerGoneError("bbb");
    };
    docker.add("ccc").stats = () => ({ read: "0001-01-01T00:00:00Z", preread: "0001-01-01T00:00:00Z" });
    expect(await collector.tick()).toMatchObject({ published: 1, gone: 2, failed: 0 });
    expect(lines.filter((line) => line.level === "warn")).toEqual([]);
  });

  it("skips a container it cannot inspect the first time, and samples it once it can", async () => {
    const { docker, sink, collector } = setup();
    const web = docker.add("aaa");
    const inspect = web.inspect;
    web.inspect = undefined;
    docker.inspectContainer = async (id) => {
      docker.inspected.push(id);
      if (web.inspect === undefined) throw new Error("inspect failed");
      return web.inspect;
    };
    expect(await collector.tick()).toMatchObject({ published: 0, failed: 1 });
    web.inspect = inspect;
    await collector.tick();
    // The reading of the failed tick was kept, so the first published sample already has CPU.
    expect(sink.of("aaa").map((m) => m.cpu_percent)).toEqual([50]);
  });

  it("keeps ticking while Docker is unreachable, says so, and logs the outage once", async () => {
    const { docker, sink, collector, lines } = setup();
    docker.add("aaa");
    docker.listFailure = Object.assign(new Error("connect ENOENT /var/run/docker.sock"), { code: "ENOENT" });
    for (let i = 0; i < 3; i++) {
      expect(await collector.tick()).toMatchObject({ dockerReachable: false, published: 0 });
    }
    expect(collector.connected).toBe(false);
    docker.listFailure = undefined;
    await collector.tick();
    expect(collector.connected).toBe(true);
    expect(sink.messages).toHaveLength(1);
    expect(linesWith(lines, "warn", "Docker unreachable")).toHaveLength(1);
    expect(linesWith(lines, "info", "Docker reachable again")[0]).toMatchObject({ failures: 3 });
  });

  it("treats a container list that hangs as Docker being unreachable", async () => {
    const { docker, collector } = setup({ dockerTimeoutMs: 30 });
    docker.listAnswer = () => new Promise(() => undefined);
    expect(await collector.tick()).toMatchObject({ dockerReachable: false });
  });

  it("never crashes on nonsense from the engine", async () => {
    const { docker, sink, collector } = setup();
    const odd = docker.add("odd");
    odd.stats = () => ({ read: "2026-11-21T21:00:00Z", cpu_stats: "n/a", memory_stats: [], networks: 5 });
    odd.inspect = "not json at all";
    docker.add("junk").stats = () => "junk";
    const listed = docker.listContainers.bind(docker);
    docker.listAnswer = undefined;
    docker.listContainers = async (signal) => [
      ...((await listed(signal)) as unknown[]),
      {},
      { Id: 42 },
      null,
    ];

    expect(await collector.tick()).toMatchObject({ containers: 2, published: 1, failed: 1 });
    expect(sink.of("odd")[0]).toMatchObject({
      cpu_percent: null,
      mem_used: null,
      mem_limit: null,
      net_rx_bytes: null,
    });

    docker.listContainers = async () => ({ message: "page not found" });
    expect(await collector.tick()).toMatchObject({ containers: 0 });
  });

  it("does not publish a sample that fails the contract, and logs that once per container", async () => {
    const { docker, sink, collector, lines } = setup({ host: "" });
    docker.add("aaa");
    docker.add("bbb");
    await collector.tick();
    expect(await collector.tick()).toMatchObject({ published: 0, unpublished: 2 });
    expect(sink.messages).toEqual([]);
    expect(linesWith(lines, "warn", "failed the stats schema")).toHaveLength(2);
  });

  it("goes on when the bus does not take samples", async () => {
    const { docker, sink, collector } = setup();
    docker.add("aaa");
    sink.failing = true;
    expect(await collector.tick()).toMatchObject({ published: 0, unpublished: 1 });
    sink.failing = false;
    await collector.tick();
    // The unpublished sample still served as the previous one.
    expect(sink.of("aaa").map((m) => m.cpu_percent)).toEqual([50]);
  });

  it("hands a tick's samples to the sink together once every answer is in, then says the batch is complete", async () => {
    const events: string[] = [];
    const sink: StatsSink = {
      publish(message) {
        events.push(`publish ${message.container.external_id}`);
        return { status: "queued" };
      },
      batchComplete() {
        events.push("complete");
      },
    };
    const { docker, collector } = setup({ sink });
    docker.add("fast");
    const slow = docker.add("slow");
    const answer = slow.nextStats.bind(slow);
    slow.stats = async () => {
      await sleep(30);
      events.push("slow answered");
      slow.stats = undefined;
      return answer();
    };
    expect(await collector.tick()).toMatchObject({ published: 2 });
    // Nothing went to the sink while the slow container's answer was outstanding.
    expect(events).toEqual(["slow answered", "publish fast", "publish slow", "complete"]);
  });

  it("samples at most `concurrency` containers at once", async () => {
    const { docker, collector } = setup({ concurrency: 3 });
    for (let i = 0; i < 10; i++) docker.add(`c${i}`);
    docker.statsDelayMs = 5;
    expect(await collector.tick()).toMatchObject({ published: 10 });
    expect(docker.maxStatsInFlight).toBe(3);
  });
});

/** Makes the container's next stats call wait until the test releases it. */
function holdNextStats(container: FakeContainer): { answered: () => boolean; release: () => void } {
  const answer = container.nextStats.bind(container);
  let release: (() => void) | undefined;
  let answered = false;
  container.stats = () =>
    new Promise<void>((resolve) => {
      release = resolve;
    }).then(() => {
      container.stats = undefined;
      answered = true;
      return answer();
    });
  return {
    answered: () => answered,
    release: () => {
      if (release === undefined) throw new Error("the stats call has not been made yet");
      release();
    },
  };
}

/** Waits (on the real clock, generously) until the sampler has finished `count` ticks. */
async function ticksFinished(lines: ReturnType<typeof captureLogger>["lines"], count: number): Promise<void> {
  await vi.waitFor(
    () => {
      if (linesWith(lines, "debug", "tick finished").length < count) throw new Error("tick still running");
    },
    { timeout: 10_000, interval: 5 },
  );
}

describe("the Docker runtime's scheduling", () => {
  it("ticks at start and then every interval", async () => {
    const clock = new ManualClock();
    const { docker, collector, lines } = setup({ intervalMs: 40, clock });
    docker.add("aaa");
    await collector.start();
    expect(docker.lists).toBe(1);
    for (let tick = 2; tick <= 4; tick++) {
      clock.advance(40);
      await ticksFinished(lines, tick);
    }
    // Not due yet: no tick.
    clock.advance(39);
    await collector.stop();
    expect(docker.lists).toBeGreaterThanOrEqual(2);
    expect(docker.lists).toBeLessThanOrEqual(5);
  });

  it("never overlaps ticks: while one runs long, the ones due are skipped with one log line", async () => {
    const clock = new ManualClock();
    const { docker, collector, lines } = setup({ intervalMs: 20, clock });
    const held = holdNextStats(docker.add("aaa"));
    const started = collector.start();
    await vi.waitFor(() => expect(docker.statsCalls).toHaveLength(1), { timeout: 10_000, interval: 5 });
    // Three ticks fall due while the first one waits for its stats.
    clock.advance(60);
    held.release();
    await started;
    clock.advance(20);
    await ticksFinished(lines, 2);
    await collector.stop();
    expect(docker.maxListsInFlight).toBe(1);
    expect(linesWith(lines, "warn", "previous tick still running")).toHaveLength(1);
    const finished = linesWith(lines, "info", "long tick finished");
    expect(finished).toHaveLength(1);
    expect(finished[0]?.skipped_ticks).toBeGreaterThanOrEqual(1);
  });

  it("on stop, finishes the containers in flight, starts no others, and ticks no more", async () => {
    const clock = new ManualClock();
    const { docker, sink, collector } = setup({ intervalMs: 1000, concurrency: 1, clock });
    const containers = Array.from({ length: 5 }, (_, i) => docker.add(`c${i}`));
    const [first] = containers;
    if (first === undefined) throw new Error("no container");
    // The first container's stats are answered only once stop() has been called.
    const held = holdNextStats(first);
    const started = collector.start();
    await vi.waitFor(() => expect(docker.statsCalls).toHaveLength(1), { timeout: 10_000, interval: 5 });
    const stopped = collector.stop();
    held.release();
    await stopped;
    await started;
    expect(held.answered()).toBe(true);
    const published = sink.messages.length;
    expect(published).toBeGreaterThanOrEqual(1);
    expect(published).toBeLessThan(5);
    expect(docker.statsCalls).toHaveLength(published);
    clock.advance(5000);
    expect(docker.lists).toBe(1);
  });
});

/** A cgroup fast path whose files hold what the test says: every read 10 s after the last, half a core of 4. */
class FakeFiles implements ContainerFileReader<ContainerProcess> {
  readonly readable = new Set<string>();
  readonly cpuNs = new Map<string, number>();
  readonly reads: { id: string; process: ContainerProcess }[] = [];
  beginFailure: string | undefined;
  ticks = 0;
  /** The container cgroups the fake host shows; undefined: it cannot tell. */
  cgroups: Set<string> | undefined;
  /** What each container's limit files say; absent: they cannot be read. */
  readonly limitFiles = new Map<string, string>();
  limitReads = 0;

  limitsSignature(id: string): string | undefined {
    this.limitReads += 1;
    return this.limitFiles.get(id);
  }

  containerIds(): ReadonlySet<string> | undefined {
    return this.cgroups === undefined ? undefined : new Set(this.cgroups);
  }

  beginTick(): FileReadResult | { readonly ok: true } {
    if (this.beginFailure) return { ok: false, detail: this.beginFailure };
    this.ticks += 1;
    return { ok: true };
  }

  read(id: string, process: ContainerProcess): FileReadResult {
    this.reads.push({ id, process });
    if (!this.readable.has(id))
      return { ok: false, detail: `cannot read /sys/fs/cgroup/memory/docker/${id}` };
    const cpuNs = (this.cpuNs.get(id) ?? 10_000_000_000) + 5_000_000_000;
    this.cpuNs.set(id, cpuNs);
    const reading: StatsReading = {
      readAtMs: T0 + this.ticks * 10_000,
      cpuTotalNs: cpuNs,
      systemCpuNs: 9_000_000_000_000 + this.ticks * 40_000_000_000,
      onlineCpus: 4,
      memUsedBytes: 64 * MIB,
      netRxBytes: null,
      netTxBytes: null,
      blkReadBytes: 0,
      blkWriteBytes: 0,
      pids: 1,
    };
    return { ok: true, reading };
  }

  cgroupEntries(): undefined {
    return undefined;
  }
  retainOnly(_ids: ReadonlySet<string>): void {}
}

function inspectWithPid(pid: number) {
  const inspect = inspectFixture({ Memory: 128 * MIB });
  return { ...inspect, State: { ...inspect.State, Pid: pid } };
}

describe("the Docker runtime with the cgroup fast path", () => {
  function setupFiles(options: Partial<DockerSamplerOptions> = {}) {
    const files = new FakeFiles();
    return { files, ...setup({ files, ...options }) };
  }

  it("fetches the container list again only when the container cgroups change or the list is too old", async () => {
    let nowMs = T0;
    const { docker, files, sink, collector } = setupFiles({ listMaxAgeMs: 200, now: () => nowMs });
    docker.add("aaa");
    files.readable.add("aaa");
    files.cgroups = new Set(["aaa"]);
    expect(await collector.tick()).toMatchObject({ listed: true, published: 1 });
    expect(await collector.tick()).toMatchObject({ listed: false, published: 1 });
    expect(docker.lists).toBe(1);

    // A new container shows as a new cgroup: listed at once.
    docker.add("bbb");
    files.readable.add("bbb");
    files.cgroups.add("bbb");
    expect(await collector.tick()).toMatchObject({ listed: true, containers: 2 });
    expect(await collector.tick()).toMatchObject({ listed: false, containers: 2 });
    // A rename is not in the cgroups: it shows once the list is older than its maximum age.
    const renamed = docker.running.get("aaa");
    if (renamed) docker.running.set("aaa", Object.assign(renamed, { name: "web-renamed" }));
    nowMs += 220;
    expect(await collector.tick()).toMatchObject({ listed: true });
    expect(sink.of("aaa").at(-1)?.container.name).toBe("web-renamed");
    expect(docker.lists).toBe(3);
  });

  it("fetches the list again while it lacks a container whose cgroup was there before it, and samples it at once", async () => {
    let nowMs = T0;
    const { docker, files, sink, collector } = setupFiles({ listMaxAgeMs: 60_000, now: () => nowMs });
    docker.add("aaa");
    files.readable.add("aaa");
    files.readable.add("bbb");
    // runc has made bbb's cgroup; dockerd does not list bbb as running yet.
    files.cgroups = new Set(["aaa", "bbb"]);
    expect(await collector.tick()).toMatchObject({ listed: true, containers: 1 });
    nowMs += 1000;
    expect(await collector.tick()).toMatchObject({ listed: true, containers: 1 });
    docker.add("bbb");
    nowMs += 1000;
    expect(await collector.tick()).toMatchObject({ listed: true, containers: 2, published: 2 });
    expect(sink.of("bbb")).toHaveLength(1);
    nowMs += 1000;
    expect(await collector.tick()).toMatchObject({ listed: false, containers: 2 });
    expect(docker.lists).toBe(3);
  });

  it("stops fetching the list for a cgroup that stays unlisted (another daemon's) after a bound", async () => {
    let nowMs = T0;
    const { docker, files, collector } = setupFiles({
      listMaxAgeMs: 600_000,
      unlistedCgroupRefetchMs: 5000,
      now: () => nowMs,
    });
    docker.add("aaa");
    files.readable.add("aaa");
    files.cgroups = new Set(["aaa", "foreign"]);
    expect(await collector.tick()).toMatchObject({ listed: true });
    nowMs += 4000;
    expect(await collector.tick()).toMatchObject({ listed: true });
    nowMs += 1000;
    expect(await collector.tick()).toMatchObject({ listed: false, containers: 1 });
    expect(await collector.tick()).toMatchObject({ listed: false });
    // A container started later is waited for with a bound of its own.
    files.cgroups.add("ccc");
    nowMs += 1000;
    expect(await collector.tick()).toMatchObject({ listed: true, containers: 1 });
    nowMs += 1000;
    expect(await collector.tick()).toMatchObject({ listed: true, containers: 1 });
    docker.add("ccc");
    files.readable.add("ccc");
    nowMs += 1000;
    expect(await collector.tick()).toMatchObject({ listed: true, containers: 2 });
    nowMs += 1000;
    expect(await collector.tick()).toMatchObject({ listed: false, containers: 2 });
  });

  it("fetches the list every tick without a maximum age, or when the cgroups cannot be read", async () => {
    const { docker, files, collector } = setupFiles();
    docker.add("aaa");
    files.readable.add("aaa");
    files.cgroups = new Set(["aaa"]);
    await collector.tick();
    await collector.tick();
    expect(docker.lists).toBe(2);

    const reusing = setupFiles({ listMaxAgeMs: 60_000 });
    reusing.docker.add("aaa");
    reusing.files.readable.add("aaa");
    await reusing.collector.tick();
    await reusing.collector.tick();
    expect(reusing.docker.lists).toBe(2);
  });

  it("lists again after a container vanished that its cgroups did not show (a --cgroup-parent)", async () => {
    const { docker, files, collector } = setupFiles({ listMaxAgeMs: 60_000 });
    docker.add("aaa");
    files.cgroups = new Set();
    docker.add("custom").stats = () => {
      throw new ContainerGoneError("custom");
    };
    files.readable.add("aaa");
    expect(await collector.tick()).toMatchObject({ listed: true, gone: 1 });
    docker.running.delete("custom");
    expect(await collector.tick()).toMatchObject({ listed: true, containers: 1 });
    expect(await collector.tick()).toMatchObject({ listed: false });
  });

  it("reads containers from their files where it can and through the API only where it cannot", async () => {
    const { docker, files, sink, collector, lines } = setupFiles();
    docker.add("aaa", "web").inspect = inspectWithPid(4242);
    docker.add("bbb", "db");
    files.readable.add("aaa");

    expect(await collector.tick()).toMatchObject({ containers: 2, published: 2, viaFiles: 1, viaApi: 1 });
    await collector.tick();
    // Only the container without readable files cost a stats call.
    expect(docker.statsCalls).toEqual(["bbb", "bbb"]);
    expect(sink.of("aaa").map((m) => m.cpu_percent)).toEqual([null, 50]);
    expect(sink.of("aaa")[1]).toMatchObject({
      mem_used: 64 * MIB,
      mem_limit: 128 * MIB,
      interval_ms: 10_000,
    });
    expect(sink.of("bbb").map((m) => m.cpu_percent)).toEqual([null, 50]);
    // The reader got what it needs of the container from the cached inspect.
    expect(files.reads.find((r) => r.id === "aaa")?.process).toEqual({
      pid: 4242,
      networkMode: "default",
      cgroupParent: null,
    });
    expect(docker.inspected.sort()).toEqual(["aaa", "bbb"]);

    // Each container's way is logged at debug when chosen, not every tick; the fallback once at warn.
    expect(linesWith(lines, "debug", "container read from its cgroup files")).toHaveLength(1);
    const viaApi = linesWith(lines, "debug", "container read through the Docker API");
    expect(viaApi).toHaveLength(1);
    expect(viaApi[0]).toMatchObject({ container_id: "bbb", reason: expect.stringContaining("cannot read") });
    expect(linesWith(lines, "warn", "read through the Docker API")).toHaveLength(1);

    files.readable.add("bbb");
    expect(await collector.tick()).toMatchObject({ viaFiles: 2, viaApi: 0 });
    expect(linesWith(lines, "info", "every container read from its cgroup files again")).toHaveLength(1);
  });

  it("does not call a container that stopped before its files were read a fallback", async () => {
    const { docker, collector, lines } = setupFiles();
    docker.add("aaa").stats = () => {
      throw new ContainerGoneError("aaa");
    };
    expect(await collector.tick()).toMatchObject({ gone: 1, viaApi: 1 });
    expect(linesWith(lines, "warn", "read through the Docker API")).toEqual([]);
  });

  it("goes through the API for every container when the host's CPU clock cannot be read", async () => {
    const { docker, files, collector } = setupFiles();
    docker.add("aaa");
    files.readable.add("aaa");
    files.beginFailure = "/proc/stat is missing";
    expect(await collector.tick()).toMatchObject({ published: 1, viaFiles: 0, viaApi: 1 });
    expect(docker.statsCalls).toEqual(["aaa"]);
  });

  it("after a restart, inspects again and reads with the new PID, starting CPU over", async () => {
    const { docker, files, sink, collector } = setupFiles();
    const web = docker.add("aaa");
    web.inspect = inspectWithPid(100);
    files.readable.add("aaa");
    await collector.tick();
    await collector.tick();
    // The container restarted: a new cgroup whose counter starts near zero, and a new PID.
    files.cpuNs.set("aaa", 0);
    web.inspect = inspectWithPid(200);
    await collector.tick();
    await collector.tick();
    expect(sink.of("aaa").map((m) => m.cpu_percent)).toEqual([null, 50, null, 50]);
    expect(files.reads.map((r) => r.process.pid)).toEqual([100, 100, 100, 200, 200]);
  });

  it("checks the limit files whenever it lists, instead of inspecting when the TTL runs out", async () => {
    let nowMs = T0;
    const { docker, files, sink, collector } = setupFiles({
      listMaxAgeMs: 60_000,
      limitsTtlMs: 300_000,
      now: () => nowMs,
    });
    const web = docker.add("aaa");
    web.inspect = inspectFixture({ Memory: 128 * MIB });
    files.readable.add("aaa");
    files.cgroups = new Set(["aaa"]);
    files.limitFiles.set("aaa", "1\n134217728\n-1\n100000");
    await collector.tick();
    expect(files.limitReads).toBe(1);
    // Ten minutes, a list every minute: the files are read with each, and say the same.
    for (let minute = 1; minute <= 10; minute++) {
      nowMs += 10_000;
      expect(await collector.tick()).toMatchObject({ listed: false });
      nowMs += 50_000;
      expect(await collector.tick()).toMatchObject({ listed: true });
    }
    expect(files.limitReads).toBe(11);
    expect(docker.inspected).toEqual(["aaa"]);

    // `docker update`: the files change; the next list's check inspects, and the sample has the new limits.
    web.inspect = inspectFixture({ Memory: 256 * MIB, NanoCpus: 1e9 });
    files.limitFiles.set("aaa", "1\n268435456\n100000\n100000");
    nowMs += 10_000;
    await collector.tick();
    expect(sink.of("aaa").at(-1)).toMatchObject({ mem_limit: 128 * MIB, cpu_limit_cores: null });
    nowMs += 60_000;
    await collector.tick();
    expect(sink.of("aaa").at(-1)).toMatchObject({
      mem_limit: 256 * MIB,
      cpu_limit_cores: 1,
      // Not a restart: CPU goes on.
      cpu_percent: 50,
    });
    expect(docker.inspected).toEqual(["aaa", "aaa"]);
    // The new files are the ones compared from then on.
    nowMs += 60_000;
    await collector.tick();
    expect(docker.inspected).toEqual(["aaa", "aaa"]);
    expect(sink.of("aaa").at(-1)).toMatchObject({ mem_limit: 256 * MIB });
  });

  it("inspects again when the limit files belong to a new cgroup, and tells a restart the counters hid", async () => {
    let nowMs = T0;
    const { docker, files, sink, collector } = setupFiles({ listMaxAgeMs: 60_000, now: () => nowMs });
    const web = docker.add("aaa");
    web.inspect = inspectWithPid(100);
    files.readable.add("aaa");
    files.cgroups = new Set(["aaa"]);
    files.limitFiles.set("aaa", "1\nmax\nmax 100000");
    await collector.tick();
    // A new run whose counters did not go backwards: only the cgroup's run number tells.
    const rerun = inspectWithPid(200);
    web.inspect = { ...rerun, State: { ...rerun.State, StartedAt: "2026-11-21T21:00:30Z" } };
    files.limitFiles.set("aaa", "2\nmax\nmax 100000");
    nowMs += 60_000;
    await collector.tick();
    // Told as a restart: CPU and rates start over.
    expect(sink.of("aaa").map((m) => m.cpu_percent)).toEqual([null, null]);
    expect(files.reads.map((r) => r.process.pid)).toEqual([100, 100, 200]);
  });

  it("inspects when the TTL runs out if the limit files cannot be read", async () => {
    let nowMs = T0;
    const { docker, files, collector } = setupFiles({
      listMaxAgeMs: 60_000,
      limitsTtlMs: 300_000,
      now: () => nowMs,
    });
    docker.add("aaa");
    files.readable.add("aaa");
    files.cgroups = new Set(["aaa"]);
    await collector.tick();
    for (let minute = 1; minute <= 5; minute++) {
      nowMs += 60_000;
      await collector.tick();
    }
    expect(docker.inspected).toEqual(["aaa", "aaa"]);
  });

  it("reads a container it cannot inspect through the API", async () => {
    const { docker, files, collector } = setupFiles();
    docker.add("aaa");
    files.readable.add("aaa");
    docker.inspectContainer = async () => {
      throw new Error("inspect failed");
    };
    expect(await collector.tick()).toMatchObject({ viaFiles: 0, viaApi: 1, failed: 1 });
    expect(docker.statsCalls).toEqual(["aaa"]);
  });

  it("counts a queued sample as published", async () => {
    const { docker, files } = setupFiles();
    docker.add("aaa");
    files.readable.add("aaa");
    const queued: StatsMessage[] = [];
    const queuing = dockerSampler({
      docker,
      sink: {
        publish(message) {
          queued.push(message);
          return { status: "queued" };
        },
      },
      files,
      host: "node-1",
      intervalMs: 60_000,
      concurrency: 8,
      dockerTimeoutMs: 200,
      logger: captureLogger().logger,
    });
    collectors.push(queuing);
    expect(await queuing.tick()).toMatchObject({ published: 1, unpublished: 0 });
    expect(queued).toHaveLength(1);
  });
});
