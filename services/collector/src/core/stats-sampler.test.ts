// The sampling core on a made-up runtime: everything a runtime needs beyond reading its
// containers (rates, percentages, restarts, outcomes, batching, scheduling) comes from the core,
// so this adapter is all a new runtime would have to write.
import { codecs, type HostStatsMessage, RUNTIMES, type Runtime, type StatsMessage } from "@crowsnest/shared";
import { afterEach, describe, expect, it, vi } from "vitest";
import { captureLogger, linesWith } from "../fixtures/capture-logger.ts";
import { ManualClock } from "../fixtures/manual-clock.ts";
import type { ContainerReading } from "./container-reading.ts";
import type { Readout, SamplingTick, StatsRuntime } from "./stats-runtime.ts";
import { StatsSampler, type StatsSamplerOptions } from "./stats-sampler.ts";
import type { PublishResult, StatsSink } from "./stats-sink.ts";

const T0 = Date.parse("2026-11-21T21:00:00.000Z");
const MIB = 2 ** 20;

interface FakeDetail {
  containers: number;
}

/** A runtime adapter whose readings are whatever the test queues for the next tick. */
class FakeRuntime implements StatsRuntime<FakeDetail> {
  readonly runtime: Runtime;
  readonly repeatsReadings: boolean;
  connected = true;
  /** The readouts of each coming tick, one list per batch. */
  readonly ticks: Readout[][][] = [];
  /** Which containers the runtime still has; undefined: keep every previous reading. */
  present: Set<string> | undefined;
  lastTick: SamplingTick | undefined;

  constructor(options: { runtime?: Runtime; repeatsReadings?: boolean } = {}) {
    this.runtime = options.runtime ?? "docker";
    this.repeatsReadings = options.repeatsReadings ?? false;
  }

  async sample(tick: SamplingTick): Promise<FakeDetail> {
    this.lastTick = tick;
    const present = this.present;
    if (present !== undefined) tick.retain((reading) => present.has(reading.container.external_id));
    const batches = this.ticks.shift() ?? [];
    for (const batch of batches) await tick.publish(batch);
    return { containers: batches.flat().length };
  }

  describe(detail: FakeDetail): Record<string, unknown> {
    return { containers: detail.containers };
  }
}

/** Validates like the real publisher and records what it would have sent, and when batches ended. */
class RecordingSink implements StatsSink {
  readonly messages: StatsMessage[] = [];
  readonly events: string[] = [];
  answer: PublishResult | "throw" = { status: "published" };
  publish(message: StatsMessage): PublishResult {
    this.events.push(`publish ${message.container.external_id}`);
    if (this.answer === "throw") throw new Error("sink broke");
    const encoded = codecs.stats.encode(message);
    if (!encoded.ok) return { status: "invalid", detail: encoded.detail };
    if (this.answer.status === "published") this.messages.push(message);
    return this.answer;
  }
  batchComplete(): void {
    this.events.push("complete");
  }
  of(id: string): StatsMessage[] {
    return this.messages.filter((message) => message.container.external_id === id);
  }
}

/** A reading of container `id` `seconds` after T0, on the wall clock unless told otherwise. */
function reading(id: string, seconds: number, overrides: Partial<ContainerReading> = {}): ContainerReading {
  return {
    container: { external_id: id, name: `name-${id}` },
    readAtMs: T0 + seconds * 1000,
    startedAtMs: T0 - 3_600_000,
    restarted: false,
    // Half a core all along: 0.5 s of CPU per second.
    cpu: { clock: "wall", usageNs: 100e9 + seconds * 0.5e9, nanoCores: null },
    onlineCpus: 4,
    memUsedBytes: 64 * MIB,
    limits: { memLimitBytes: 256 * MIB, cpuLimitCores: 1 },
    // 1000 B/s received, 100 B/s sent, 4096 B/s read, nothing written.
    network: { readAtMs: T0 + seconds * 1000, rxBytes: 10_000 + seconds * 1000, txBytes: seconds * 100 },
    blkReadBytes: seconds * 4096,
    blkWriteBytes: 0,
    pids: 3,
    ...overrides,
  };
}

const samplers: StatsSampler<FakeDetail>[] = [];
afterEach(async () => {
  await Promise.all(samplers.splice(0).map((sampler) => sampler.stop()));
});

function setup(options: { runtime?: FakeRuntime } & Partial<StatsSamplerOptions<FakeDetail>> = {}) {
  const runtime = options.runtime ?? new FakeRuntime();
  const sink = new RecordingSink();
  const { logger, lines } = captureLogger();
  const sampler = new StatsSampler({ runtime, sink, host: "host-1", intervalMs: 10_000, logger, ...options });
  samplers.push(sampler);
  return { runtime, sink, lines, sampler };
}

describe("the sampling core on any runtime", () => {
  it("names the adapter's runtime in every sample, and merges the adapter's detail into the tick summary", async () => {
    for (const name of RUNTIMES) {
      const { runtime, sink, sampler } = setup({ runtime: new FakeRuntime({ runtime: name }) });
      runtime.ticks.push([[reading("a", 0)]]);
      expect(await sampler.tick()).toEqual({
        containers: 1,
        published: 1,
        unpublished: 0,
        unchanged: 0,
        failed: 0,
        gone: 0,
      });
      expect(sink.messages[0]?.runtime).toBe(name);
    }
  });

  it("publishes the counters at once, and CPU, interval and rates from the second reading on", async () => {
    const { runtime, sink, sampler } = setup();
    runtime.ticks.push([[reading("a", 0)]], [[reading("a", 10)]]);
    await sampler.tick();
    await sampler.tick();
    const [first, second] = sink.of("a");
    expect(first).toMatchObject({
      host: "host-1",
      container: { external_id: "a", name: "name-a" },
      ts: "2026-11-21T21:00:00.000Z",
      interval_ms: null,
      cpu_percent: null,
      online_cpus: 4,
      cpu_limit_cores: 1,
      mem_used: 64 * MIB,
      mem_limit: 256 * MIB,
      net_rx_bytes: 10_000,
      net_rx_bytes_per_s: null,
      blk_read_bytes: 0,
      blk_read_bytes_per_s: null,
      pids: 3,
    });
    expect(first).not.toHaveProperty("source");
    expect(second).toMatchObject({
      interval_ms: 10_000,
      cpu_percent: 50,
      net_rx_bytes_per_s: 1000,
      net_tx_bytes_per_s: 100,
      blk_read_bytes_per_s: 4096,
      blk_write_bytes_per_s: 0,
    });
  });

  it("takes the runtime's own CPU rate, or the host CPU clock, where the reading has them", async () => {
    const { runtime, sink, sampler } = setup();
    const rated = (seconds: number) =>
      reading("rated", seconds, { cpu: { clock: "wall", usageNs: null, nanoCores: 250_000_000 } });
    // 2 s of CPU while the host's 4 CPUs spent 40 s in all: 5 % of the host, 20 % of one core.
    const hostClock = (seconds: number) =>
      reading("host-clock", seconds, {
        cpu: { clock: "host", usageNs: 10e9 + seconds * 0.2e9, hostNs: 1000e9 + seconds * 4e9 },
      });
    runtime.ticks.push([[rated(0), hostClock(0)]], [[rated(10), hostClock(10)]]);
    await sampler.tick();
    await sampler.tick();
    expect(sink.of("rated").map((message) => message.cpu_percent)).toEqual([25, 25]);
    const [firstHost, secondHost] = sink.of("host-clock");
    expect(firstHost?.cpu_percent).toBeNull();
    expect(secondHost?.cpu_percent).toBeCloseTo(20, 10);
  });

  it("starts CPU and rates over after a restart: counter reset, new start time, or the runtime saying so", async () => {
    const { runtime, sink, sampler } = setup();
    runtime.ticks.push(
      [[reading("reset", 0), reading("started", 0), reading("told", 0)]],
      [
        [
          reading("reset", 10, { cpu: { clock: "wall", usageNs: 1e9, nanoCores: null } }),
          reading("started", 10, { startedAtMs: T0 + 5000 }),
          reading("told", 10, { restarted: true }),
        ],
      ],
      [[reading("reset", 20, { cpu: { clock: "wall", usageNs: 6e9, nanoCores: null } })]],
    );
    await sampler.tick();
    await sampler.tick();
    await sampler.tick();
    for (const id of ["reset", "started", "told"]) {
      expect(sink.of(id)[1]).toMatchObject({
        cpu_percent: null,
        interval_ms: null,
        net_rx_bytes_per_s: null,
      });
    }
    // After the restart, the new run's readings make the rates again.
    expect(sink.of("reset")[2]).toMatchObject({ cpu_percent: 50, interval_ms: 10_000 });
  });

  it("counts what the sink did with each sample, and logs an invalid one once per container", async () => {
    const { runtime, sink, sampler, lines } = setup();
    sink.answer = { status: "failed" };
    runtime.ticks.push([[reading("a", 0)]]);
    expect(await sampler.tick()).toMatchObject({ published: 0, unpublished: 1 });
    sink.answer = "throw";
    runtime.ticks.push([[reading("a", 10)]]);
    expect(await sampler.tick()).toMatchObject({ published: 0, unpublished: 1 });
    sink.answer = { status: "queued" };
    runtime.ticks.push([[reading("a", 20)]]);
    expect(await sampler.tick()).toMatchObject({ published: 1, unpublished: 0 });

    const bad = (seconds: number) => reading("bad", seconds, { pids: -1 });
    runtime.ticks.push([[bad(0)]], [[bad(10)]]);
    expect(await sampler.tick()).toMatchObject({ unpublished: 1 });
    expect(await sampler.tick()).toMatchObject({ unpublished: 1 });
    expect(linesWith(lines, "warn", "failed the stats schema")).toHaveLength(1);
  });

  it("counts skipped containers, and keeps a skipped container's counters as its previous reading", async () => {
    const { runtime, sink, sampler } = setup();
    runtime.ticks.push(
      [
        [
          { skipped: "failed", reading: reading("a", 0) },
          { skipped: "gone" },
          Promise.resolve({ skipped: "failed" }),
        ],
      ],
      [[reading("a", 10)]],
    );
    expect(await sampler.tick()).toMatchObject({ published: 0, failed: 2, gone: 1 });
    expect(sink.messages).toEqual([]);
    await sampler.tick();
    // The first published sample already has CPU: the skipped reading served as the previous one.
    expect(sink.of("a").map((message) => message.cpu_percent)).toEqual([50]);
  });

  it("does not publish a reading twice for a runtime whose readings repeat", async () => {
    const { runtime, sink, sampler } = setup({ runtime: new FakeRuntime({ repeatsReadings: true }) });
    runtime.ticks.push([[reading("a", 0)]], [[reading("a", 0)]], [[reading("a", 10)]]);
    expect(await sampler.tick()).toMatchObject({ published: 1 });
    expect(await sampler.tick()).toMatchObject({ published: 0, unchanged: 1 });
    expect(await sampler.tick()).toMatchObject({ published: 1 });
    expect(sink.of("a").map((message) => message.interval_ms)).toEqual([null, 10_000]);

    // A runtime whose readings do not repeat publishes every one it hands over.
    const other = setup();
    other.runtime.ticks.push([[reading("b", 0)]], [[reading("b", 0)]]);
    await other.sampler.tick();
    expect(await other.sampler.tick()).toMatchObject({ published: 1, unchanged: 0 });
  });

  it("forgets the previous readings of containers the runtime no longer has", async () => {
    const { runtime, sink, sampler } = setup();
    runtime.ticks.push([[reading("a", 0)]], [], [[reading("a", 20)]]);
    await sampler.tick();
    runtime.present = new Set();
    await sampler.tick();
    runtime.present = new Set(["a"]);
    await sampler.tick();
    expect(sink.of("a").map((message) => message.cpu_percent)).toEqual([null, null]);
  });

  it("hands ready readings over together and then completes the batch; finished ones follow on their own", async () => {
    const { runtime, sink, sampler } = setup();
    let finish: ((value: ContainerReading) => void) | undefined;
    const late = new Promise<ContainerReading>((resolve) => {
      finish = resolve;
    });
    runtime.ticks.push([[reading("a", 0), late, reading("b", 0)]]);
    const ticked = sampler.tick();
    await vi.waitFor(() => expect(sink.events).toContain("complete"), { timeout: 10_000, interval: 5 });
    expect(sink.events).toEqual(["publish a", "publish b", "complete"]);
    finish?.(reading("c", 0));
    expect(await ticked).toMatchObject({ published: 3 });
    expect(sink.events).toEqual(["publish a", "publish b", "complete", "publish c"]);
  });

  it("does not complete a batch in which nothing went to the sink", async () => {
    const { runtime, sink, sampler } = setup({ runtime: new FakeRuntime({ repeatsReadings: true }) });
    runtime.ticks.push([[{ skipped: "gone" }]], [[reading("a", 0)]], [[reading("a", 0)]]);
    await sampler.tick();
    expect(sink.events).toEqual([]);
    await sampler.tick();
    // The same reading again is not sent, so there is no batch to complete either.
    expect(await sampler.tick()).toMatchObject({ unchanged: 1 });
    expect(sink.events).toEqual(["publish a", "complete"]);
  });

  it("publishes the runtime's host samples to the host sink, logging an invalid one once", async () => {
    const hostMessages: HostStatsMessage[] = [];
    let invalid = false;
    const hostSink = {
      publish(message: HostStatsMessage) {
        if (invalid) return { status: "invalid" as const, detail: "bad" };
        hostMessages.push(message);
        return { status: "queued" as const };
      },
    };
    const { runtime, sampler, lines } = setup({ hostSink });
    await sampler.tick();
    // Only the sink looks at the message, and this one does not check it.
    const message = { host: "host-1" } as unknown as HostStatsMessage;
    expect(runtime.lastTick?.publishHost(message)).toBe(true);
    invalid = true;
    expect(runtime.lastTick?.publishHost(message)).toBe(false);
    expect(runtime.lastTick?.publishHost(message)).toBe(false);
    expect(hostMessages).toHaveLength(1);
    expect(linesWith(lines, "warn", "host sample failed its schema")).toHaveLength(1);

    const without = setup();
    await without.sampler.tick();
    expect(without.runtime.lastTick?.publishHost(message)).toBe(false);
  });

  it("says the runtime is connected when the adapter does", () => {
    const { runtime, sampler } = setup();
    expect(sampler.connected).toBe(true);
    runtime.connected = false;
    expect(sampler.connected).toBe(false);
  });
});

describe("the sampling core's schedule", () => {
  it("ticks at start and then every interval of its clock, and no more once stopped", async () => {
    const clock = new ManualClock();
    const { runtime, sampler, lines } = setup({ clock, intervalMs: 1000 });
    let ticks = 0;
    const sample = runtime.sample.bind(runtime);
    runtime.sample = (tick) => {
      ticks += 1;
      return sample(tick);
    };
    await sampler.start();
    expect(ticks).toBe(1);
    clock.advance(999);
    expect(ticks).toBe(1);
    clock.advance(1);
    await vi.waitFor(() => expect(linesWith(lines, "debug", "tick finished")).toHaveLength(2), {
      timeout: 10_000,
      interval: 5,
    });
    expect(ticks).toBe(2);
    await sampler.stop();
    expect(clock.timers).toBe(0);
    clock.advance(10_000);
    expect(ticks).toBe(2);
    expect(runtime.lastTick?.stopping).toBe(true);
  });
});
