// The collector's per-sample work after the reads, alone: the sampling core building each sample
// from a made-up reading, the StatsPublisher checking and encoding it, the publish queue and the
// acknowledgement tracking sending it to a real JetStream stream and reading each
// acknowledgement back. No files are read, so what it prints is the part of a sample's CPU that
// publishing costs, without the kernel's share; this process's CPU time (every thread, V8's
// garbage collector included), not wall time, so it holds on a busy machine better than a wall
// clock would. Run it in two checkouts, alternately, to compare them.
//
//   node --conditions=crowsnest-source --max-semi-space-size=1 --v8-pool-size=1 \
//     test/bench/support/publish-path.ts [containers] [ticks] [rounds]
//
// Defaults: 53 containers (issue #22's bench), 600 ticks per round, 3 rounds after a warm-up.
// Needs NATS (CROWSNEST_TEST_NATS_URL); the streams it creates are removed.
import { createLogger, createSubjects, DEFAULT_STREAM_RETENTION, streamDefinitions } from "@crowsnest/shared";
import { JetStreamAckPublisher, PublishQueue } from "@crowsnest/shared/publishing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { ContainerReading } from "../../../services/collector/src/core/container-reading.ts";
import { StatsSampler } from "../../../services/collector/src/core/stats-sampler.ts";
import { StatsPublisher } from "../../../services/collector/src/publishing/stats-publisher.ts";

const NATS_URL = process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
const [containers = 53, ticks = 600, rounds = 3] = process.argv.slice(2).map((argument) => Number(argument));

const prefix = `pubpath-${Date.now().toString(36)}`;
const subjects = createSubjects(prefix);
const nc = await connect({ servers: NATS_URL, name: prefix });
const jsm = await jetstreamManager(nc);
const streams = streamDefinitions(subjects, DEFAULT_STREAM_RETENTION);
for (const { config } of streams) await jsm.streams.add(config);
const logger = createLogger({ service: "collector", level: "warn" });
const acks = new JetStreamAckPublisher({ nc });
const queue = new PublishQueue({
  js: acks,
  logger,
  maxBuffered: 100_000,
  maxInFlight: 256,
  batchDelayMs: 10,
});

let tickAtMs = Date.UTC(2026, 11, 5);
const ids = Array.from(
  { length: containers },
  (_, index) => `${index.toString(16).padStart(4, "0")}${"c".repeat(60)}`,
);
const readings = (): ContainerReading[] => {
  tickAtMs += 1000;
  return ids.map((id, index) => ({
    container: { external_id: id, name: `bench-${index}` },
    readAtMs: tickAtMs,
    startedAtMs: Date.UTC(2026, 11, 5),
    restarted: false,
    cpu: { clock: "host", usageNs: tickAtMs * 1000 + index, hostNs: tickAtMs * 2_000_000 },
    onlineCpus: 2,
    memUsedBytes: 1_000_000 + index,
    limits: { memLimitBytes: null, cpuLimitCores: null },
    network: { readAtMs: tickAtMs, rxBytes: tickAtMs % 1_000_000, txBytes: tickAtMs % 700_000 },
    blkReadBytes: 4096,
    blkWriteBytes: 0,
    pids: 1,
  }));
};
const sampler = new StatsSampler<object>({
  runtime: {
    runtime: "docker",
    repeatsReadings: false,
    connected: true,
    sample: async (tick) => {
      await tick.publish(readings());
      return {};
    },
    describe: () => ({}),
  },
  sink: new StatsPublisher({ queue, subjects }),
  host: prefix,
  intervalMs: 1000,
  logger,
});

const runTicks = async (count: number) => {
  let published = 0;
  for (let tick = 0; tick < count; tick++) {
    published += (await sampler.tick()).published;
    if (!(await queue.flush(10_000))) throw new Error("the bus did not acknowledge a tick's samples in 10 s");
  }
  return published;
};

try {
  await runTicks(Math.ceil(ticks / 2));
  const perSample: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const before = process.cpuUsage();
    const published = await runTicks(ticks);
    const spent = process.cpuUsage(before);
    if (published !== ticks * containers) throw new Error(`published ${published} of ${ticks * containers}`);
    perSample.push((spent.user + spent.system) / 1000 / published);
  }
  console.log(
    `${containers} containers × ${ticks} ticks, ${rounds} rounds: CPU ms per sample ${perSample.map((value) => value.toFixed(4)).join(", ")}`,
  );
} finally {
  await queue.stop(5000);
  acks.close();
  for (const { config } of streams) await jsm.streams.delete(config.name).catch(() => undefined);
  await nc.close();
}
