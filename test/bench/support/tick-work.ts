// The collector's own work per tick, in-process and without its timers: the real Docker runtime
// with its cgroup fast path on this machine's dockerd, the sampling core, the StatsPublisher,
// the publish queue and the acknowledgement tracking to a real JetStream stream, wired as
// main.ts wires them (config from the same variables). Each tick is run and its acknowledgements
// awaited before the next, back to back. What it prints is repeatable under load where a CPU
// figure is not, so small changes can be told apart:
//
// - bytes allocated per sample on V8's young generation (run it with a young generation large
//   enough that a tick never collects it, e.g. `--max-semi-space-size=64 --min-semi-space-size=64`;
//   ticks during which a collection ran are left out);
// - with `valgrind --tool=callgrind`, instructions: run it twice with different tick counts and
//   divide the difference by the difference of ticks (start-up cancels out).
//
//   node --conditions=crowsnest-source test/bench/support/tick-work.ts [ticks] [warm-up ticks]
//
// CROWSNEST_TICK_WORK_HEAP_PROFILE=<file> writes a sampling heap profile of the measured ticks
// (every allocation, collected ones included; open it in Chrome's DevTools).
//
// Defaults: 200 ticks after 20 warm-up ticks. Samples whatever runs on this dockerd (start
// containers first: collector-profile.ts's idle busybox ones, or the peer bench's). Needs NATS
// (CROWSNEST_TEST_NATS_URL); the streams it creates are removed. CPU time per sample is printed
// too, for what it is worth on a busy machine.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { createLogger, DEFAULT_STREAM_RETENTION, openBus, streamDefinitions } from "@crowsnest/shared";
import { JetStreamAckPublisher, PublishQueue } from "@crowsnest/shared/publishing";
import { jetstreamManager } from "@nats-io/jetstream";
import { readConfig } from "../../../services/collector/src/config.ts";
import { StatsSampler } from "../../../services/collector/src/core/stats-sampler.ts";
import { StatsPublisher } from "../../../services/collector/src/publishing/stats-publisher.ts";
import { prepareRuntime } from "../../../services/collector/src/runtimes/collector-runtimes.ts";

const [ticks = 200, warmUp = 20] = process.argv.slice(2).map((argument) => Number(argument));
const prefix = `tickwork-${Date.now().toString(36)}`;
process.env.CROWSNEST_NATS_URL ??= process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
process.env.CROWSNEST_SUBJECT_PREFIX = prefix;
process.env.CROWSNEST_HOST_NAME = prefix;
process.env.CROWSNEST_STATS_SOURCE ??= "auto";
process.env.CROWSNEST_LOG_LEVEL ??= "warn";

const config = readConfig();
const logger = createLogger({ service: "collector", level: "warn" });
const prepared = await prepareRuntime(config, logger);
const bus = await openBus({ config: config.common, service: "collector", host: prefix, logger });
const jsm = await jetstreamManager(bus.nc);
// openBus made them, as it does for the collector.
const streams = streamDefinitions(bus.subjects, DEFAULT_STREAM_RETENTION);
const acks = new JetStreamAckPublisher({ nc: bus.nc });
const queue = new PublishQueue({
  js: acks,
  logger,
  maxBuffered: config.publishBufferMax,
  maxInFlight: config.publishMaxInFlight,
  batchDelayMs: config.publishBatchDelayMs,
});
const sampler = new StatsSampler({
  runtime: prepared.createStatsRuntime(logger),
  sink: new StatsPublisher({ queue, subjects: bus.subjects }),
  host: prefix,
  intervalMs: config.collectIntervalMs,
  logger,
});

let collections = 0;
const gcObserver = new PerformanceObserver((list) => {
  collections += list.getEntries().length;
});
gcObserver.observe({ entryTypes: ["gc"] });
const youngUsed = () =>
  getHeapSpaceStatistics()
    .filter((space) => space.space_name === "new_space" || space.space_name === "new_large_object_space")
    .reduce((sum, space) => sum + space.space_used_size, 0);

const tickOnce = async () => {
  const summary = await sampler.tick();
  if (!(await queue.flush(10_000))) throw new Error("the bus did not acknowledge a tick's samples in 10 s");
  return summary.published;
};

try {
  for (let tick = 0; tick < warmUp; tick++) await tickOnce();
  const heapProfile = process.env.CROWSNEST_TICK_WORK_HEAP_PROFILE;
  const inspector = heapProfile === undefined ? undefined : new Session();
  if (inspector !== undefined) {
    inspector.connect();
    // Every allocation, also those the garbage collector took since: what a tick allocates, not what it keeps.
    await inspector.post("HeapProfiler.startSampling", {
      samplingInterval: 128,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  const allocated: number[] = [];
  let published = 0;
  const cpuBefore = process.cpuUsage();
  for (let tick = 0; tick < ticks; tick++) {
    // Lets the observer hear of collections so far, then measures one tick alone.
    await new Promise((resolve) => setImmediate(resolve));
    const collectionsBefore = collections;
    const before = youngUsed();
    const samples = await tickOnce();
    const after = youngUsed();
    await new Promise((resolve) => setImmediate(resolve));
    published += samples;
    if (collections === collectionsBefore && samples > 0) allocated.push((after - before) / samples);
  }
  const cpu = process.cpuUsage(cpuBefore);
  if (inspector !== undefined && heapProfile !== undefined) {
    const { profile } = await inspector.post("HeapProfiler.stopSampling");
    writeFileSync(heapProfile, JSON.stringify(profile));
    inspector.disconnect();
  }
  allocated.sort((a, b) => a - b);
  const median = allocated[Math.floor(allocated.length / 2)] ?? Number.NaN;
  console.log(
    JSON.stringify({
      ticks,
      samples_per_tick: published / ticks,
      young_bytes_per_sample_median: Math.round(median),
      ticks_without_gc: allocated.length,
      cpu_ms_per_sample: Number(((cpu.user + cpu.system) / 1000 / published).toFixed(4)),
    }),
  );
} finally {
  gcObserver.disconnect();
  await queue.stop(5000);
  acks.close();
  for (const { config: stream } of streams) await jsm.streams.delete(stream.name).catch(() => undefined);
  await bus.drain();
  prepared.close();
}
