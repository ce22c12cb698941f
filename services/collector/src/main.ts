// The collector's composition root: reads the config, connects to Docker and NATS, and runs
// the container stats collector, the host stats collector and the heartbeat until SIGTERM.
// Nothing else wires components together.
import {
  createLogger,
  exitOnShutdownSignal,
  type Heartbeat,
  loadConfigOrExit,
  openBus,
  resolveRuntimeHostName,
  startHeartbeat,
} from "@crowsnest/shared";
import { field } from "@crowsnest/shared/util/json-fields";
import { readConfig } from "./config.ts";
import { HostStatsCollector } from "./host/host-stats-collector.ts";
import { HostStatsPublisher } from "./publishing/host-stats-publisher.ts";
import { JetStreamAckPublisher } from "./publishing/jetstream-ack-publisher.ts";
import { PublishQueue } from "./publishing/publish-queue.ts";
import { StatsPublisher } from "./publishing/stats-publisher.ts";
import { createDockerSocketPort } from "./sampling/docker-socket-port.ts";
import { setUpFileReader } from "./sampling/file-reader-setup.ts";
import { StatsCollector } from "./sampling/stats-collector.ts";

const SERVICE = "collector";

async function main(): Promise<void> {
  const config = loadConfigOrExit(SERVICE, readConfig);
  const docker = createDockerSocketPort({
    socketPath: config.dockerSocketPath,
    maxSockets: config.collectConcurrency,
  });
  const host = await resolveRuntimeHostName({
    configured: config.hostName,
    askRuntime: async () => {
      const name = field(await docker.info(AbortSignal.timeout(config.dockerTimeoutMs)), "Name");
      return typeof name === "string" ? name : undefined;
    },
    logger: createLogger({ service: SERVICE, level: config.common.logLevel }),
  });
  const logger = createLogger({ service: SERVICE, level: config.common.logLevel, host });
  logger.info(
    {
      docker_socket: config.dockerSocketPath,
      interval_ms: config.collectIntervalMs,
      concurrency: config.collectConcurrency,
      docker_timeout_ms: config.dockerTimeoutMs,
      container_list_max_age_ms: config.containerListMaxAgeMs,
      publish_buffer_max: config.publishBufferMax,
      publish_max_in_flight: config.publishMaxInFlight,
    },
    "starting",
  );

  const bus = await openBus({ config: config.common, service: SERVICE, host, logger });
  const acks = new JetStreamAckPublisher({ nc: bus.nc });
  const queue = new PublishQueue({
    js: acks,
    logger,
    maxBuffered: config.publishBufferMax,
    maxInFlight: config.publishMaxInFlight,
    // Samples from the Docker API arrive one by one: a few milliseconds make them one write.
    batchDelayMs: 10,
  });
  const collector = new StatsCollector({
    docker,
    sink: new StatsPublisher({ queue, subjects: bus.subjects }),
    host,
    intervalMs: config.collectIntervalMs,
    concurrency: config.collectConcurrency,
    dockerTimeoutMs: config.dockerTimeoutMs,
    files: setUpFileReader({
      source: config.statsSource,
      cgroupRoot: config.cgroupRoot,
      procRoot: config.procRoot,
      logger,
    }),
    listMaxAgeMs: config.containerListMaxAgeMs,
    logger,
  });
  const hostStats = new HostStatsCollector({
    procRoot: config.procRoot,
    host,
    intervalMs: config.collectIntervalMs,
    sink: new HostStatsPublisher({ queue, subjects: bus.subjects }),
    logger,
  });

  let heartbeat: Heartbeat | undefined;
  exitOnShutdownSignal({
    logger,
    timeoutMs: config.common.shutdownTimeoutMs,
    async stop() {
      hostStats.stop();
      await collector.stop();
      heartbeat?.stop();
      // Half the shutdown budget for what the bus has not acknowledged yet; the rest for draining.
      await queue.stop(config.common.shutdownTimeoutMs / 2);
      acks.close();
      docker.close();
      await bus.drain();
    },
  });

  hostStats.start();
  // The first tick runs before the first heartbeat, so that heartbeat already tells whether Docker is reachable.
  await collector.start();
  heartbeat = startHeartbeat({
    nc: bus.nc,
    subjects: bus.subjects,
    host,
    service: SERVICE,
    runtime: "docker",
    intervalMs: config.common.heartbeatIntervalMs,
    isConnected: () => collector.dockerReachable,
    livenessFile: config.common.livenessFile,
    logger,
  });
  logger.info("collecting");
}

main().catch((error: unknown) => {
  createLogger({ service: SERVICE, level: "info" }).fatal({ err: error }, "collector failed to start");
  process.exit(1);
});
