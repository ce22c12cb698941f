// The collector's composition root: reads the config, loads and reaches the selected container
// runtime (runtimes/collector-runtimes.ts imports only that runtime's modules), connects to NATS,
// and runs the sampling core on the runtime's adapter, the host's own sampling and the heartbeat
// until SIGTERM. Everything it opens is released in reverse order (runService). Nothing else
// wires components together.
import {
  createLogger,
  type Heartbeat,
  type HeartbeatOptions,
  openBus,
  runService,
  startHeartbeat,
  startTickedHeartbeat,
  type TickedHeartbeat,
} from "@crowsnest/shared/agent";
import { JetStreamAckPublisher, PublishQueue } from "@crowsnest/shared/publishing";
import { readConfig } from "./config.ts";
import { StatsSampler } from "./core/stats-sampler.ts";
import { HostStatsCollector } from "./host/host-stats-collector.ts";
import { HostStatsPublisher } from "./publishing/host-stats-publisher.ts";
import { StatsPublisher } from "./publishing/stats-publisher.ts";
import { prepareRuntime } from "./runtimes/collector-runtimes.ts";

const SERVICE = "collector";

runService(SERVICE, async (lifecycle) => {
  const config = readConfig();
  const prepared = await prepareRuntime(
    config,
    createLogger({ service: SERVICE, level: config.common.logLevel }),
  );
  lifecycle.defer("runtime connections", () => prepared.close());
  const { host } = prepared;
  const logger = createLogger({ service: SERVICE, level: config.common.logLevel, host });
  lifecycle.configure({ logger, shutdownTimeoutMs: config.common.shutdownTimeoutMs });
  logger.info(
    {
      runtime: config.runtime,
      ...prepared.describe,
      interval_ms: config.collectIntervalMs,
      publish_buffer_max: config.publishBufferMax,
      publish_max_in_flight: config.publishMaxInFlight,
      publish_batch_delay_ms: config.publishBatchDelayMs,
    },
    "starting",
  );

  const bus = await openBus({ config: config.common, service: SERVICE, host, logger });
  lifecycle.defer("bus", () => bus.drain());
  lifecycle.exitWhenLost("NATS connection", bus.closed());
  const acks = new JetStreamAckPublisher({ nc: bus.nc, inboxPrefix: config.common.natsInboxPrefix });
  lifecycle.defer("acknowledgement tracking", () => acks.close());
  const queue = new PublishQueue({
    js: acks,
    logger,
    maxBuffered: config.publishBufferMax,
    maxInFlight: config.publishMaxInFlight,
    batchDelayMs: config.publishBatchDelayMs,
  });
  // Half the shutdown budget for what the bus has not acknowledged yet; the rest for draining.
  lifecycle.defer("publish queue", () => queue.stop(config.common.shutdownTimeoutMs / 2));

  const hostSink = new HostStatsPublisher({ queue, subjects: bus.subjects });
  const hostStats =
    prepared.hostStats === "procfs"
      ? new HostStatsCollector({ procRoot: config.procRoot, host, sink: hostSink, logger })
      : undefined;
  // Set once the first tick is done; the beats then come on the tick's timer (below).
  let tickedHeartbeat: TickedHeartbeat | undefined;
  const sampler = new StatsSampler({
    runtime: prepared.createStatsRuntime(logger),
    sink: new StatsPublisher({ queue, subjects: bus.subjects }),
    hostSink: prepared.hostStats === "runtime" ? hostSink : undefined,
    host,
    intervalMs: config.collectIntervalMs,
    logger,
    // On the tick's timer, and just before the tick: the host's sample and the heartbeat are then
    // sent in the tick's write.
    everyInterval: () => {
      hostStats?.sample();
      tickedHeartbeat?.onTick();
    },
  });
  lifecycle.defer("sampling", () => sampler.stop());

  // The first tick runs before the first heartbeat, so that heartbeat already tells whether the runtime is reachable.
  await sampler.start();
  const heartbeatOptions: HeartbeatOptions = {
    nc: bus.nc,
    subjects: bus.subjects,
    host,
    service: SERVICE,
    runtime: config.runtime,
    runtimeApiVersion: prepared.runtimeApiVersion,
    intervalMs: config.common.heartbeatIntervalMs,
    isConnected: () => sampler.connected,
    livenessFile: config.common.livenessFile,
    logger,
  };
  // When ticks come at least as often as beats (the default 10 s against 15 s), they carry the
  // beats: the collector does not wake up between two ticks for a beat. Longer intervals keep the
  // heartbeat's own timer.
  let heartbeat: Heartbeat;
  if (config.collectIntervalMs <= config.common.heartbeatIntervalMs) {
    tickedHeartbeat = startTickedHeartbeat({ ...heartbeatOptions, tickIntervalMs: config.collectIntervalMs });
    heartbeat = tickedHeartbeat;
  } else {
    heartbeat = startHeartbeat(heartbeatOptions);
  }
  lifecycle.defer("heartbeat", () => heartbeat.stop());
  logger.info("collecting");
});
