// The collector's composition root: reads the config, connects to the container runtime
// (dockerd, or the Kubernetes API server when CROWSNEST_RUNTIME=kubernetes) and NATS, and runs
// the runtime's sampling (container stats and host stats) and the heartbeat until SIGTERM.
// Kubernetes mode's modules are imported only in that mode. Nothing else wires components together.
import {
  ConfigError,
  createLogger,
  exitOnShutdownSignal,
  type Heartbeat,
  type Logger,
  loadConfigOrExit,
  openBus,
  resolveRuntimeHostName,
  startHeartbeat,
} from "@crowsnest/shared";
import { field } from "@crowsnest/shared/util/json-fields";
import { type CollectorConfig, readConfig } from "./config.ts";
import { HostStatsCollector, type HostStatsSink } from "./host/host-stats-collector.ts";
import type { Sampling } from "./kubernetes/kubernetes-wiring.ts";
import { HostStatsPublisher } from "./publishing/host-stats-publisher.ts";
import { JetStreamAckPublisher } from "./publishing/jetstream-ack-publisher.ts";
import { PublishQueue } from "./publishing/publish-queue.ts";
import { StatsPublisher } from "./publishing/stats-publisher.ts";
import { createDockerSocketPort } from "./sampling/docker-socket-port.ts";
import { setUpFileReader } from "./sampling/file-reader-setup.ts";
import { StatsCollector } from "./sampling/stats-collector.ts";
import type { StatsSink } from "./sampling/stats-sink.ts";

const SERVICE = "collector";

/** A runtime reached and named: what the start line says about it, and its sampling once there are sinks. */
interface Prepared {
  host: string;
  describe: Record<string, unknown>;
  build(sinks: { stats: StatsSink; hostStats: HostStatsSink }, logger: Logger): Sampling;
}

async function prepareDocker(config: CollectorConfig & { runtime: "docker" }): Promise<Prepared> {
  const docker = createDockerSocketPort({
    socketPath: config.docker.socketPath,
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
  return {
    host,
    describe: {
      docker_socket: config.docker.socketPath,
      concurrency: config.collectConcurrency,
      docker_timeout_ms: config.dockerTimeoutMs,
      container_list_max_age_ms: config.containerListMaxAgeMs,
    },
    build(sinks, logger) {
      const collector = new StatsCollector({
        docker,
        sink: sinks.stats,
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
        sink: sinks.hostStats,
        logger,
      });
      return {
        async start() {
          hostStats.start();
          await collector.start();
        },
        async stop() {
          hostStats.stop();
          await collector.stop();
        },
        isConnected: () => collector.dockerReachable,
        close: () => docker.close(),
      };
    },
  };
}

async function prepareKubernetesOrExit(
  config: CollectorConfig & { runtime: "kubernetes" },
): Promise<Prepared> {
  const { prepareKubernetes } = await import("./kubernetes/kubernetes-wiring.ts");
  try {
    return await prepareKubernetes(config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    createLogger({ service: SERVICE, level: "info" }).fatal({ code: error.code }, error.message);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit(SERVICE, readConfig);
  const prepared =
    config.runtime === "kubernetes" ? await prepareKubernetesOrExit(config) : await prepareDocker(config);
  const { host } = prepared;
  const logger = createLogger({ service: SERVICE, level: config.common.logLevel, host });
  logger.info(
    {
      runtime: config.runtime,
      ...prepared.describe,
      interval_ms: config.collectIntervalMs,
      publish_buffer_max: config.publishBufferMax,
      publish_max_in_flight: config.publishMaxInFlight,
    },
    "starting",
  );

  const bus = await openBus({ config: config.common, service: SERVICE, host, logger });
  const acks = new JetStreamAckPublisher({ nc: bus.nc, inboxPrefix: config.common.natsInboxPrefix });
  const queue = new PublishQueue({
    js: acks,
    logger,
    maxBuffered: config.publishBufferMax,
    maxInFlight: config.publishMaxInFlight,
    // Samples from the Docker API arrive one by one: a few milliseconds make them one write.
    batchDelayMs: 10,
  });
  const sampling = prepared.build(
    {
      stats: new StatsPublisher({ queue, subjects: bus.subjects }),
      hostStats: new HostStatsPublisher({ queue, subjects: bus.subjects }),
    },
    logger,
  );

  let heartbeat: Heartbeat | undefined;
  exitOnShutdownSignal({
    logger,
    timeoutMs: config.common.shutdownTimeoutMs,
    async stop() {
      await sampling.stop();
      heartbeat?.stop();
      // Half the shutdown budget for what the bus has not acknowledged yet; the rest for draining.
      await queue.stop(config.common.shutdownTimeoutMs / 2);
      acks.close();
      sampling.close();
      await bus.drain();
    },
  });

  // The first tick runs before the first heartbeat, so that heartbeat already tells whether the runtime is reachable.
  await sampling.start();
  heartbeat = startHeartbeat({
    nc: bus.nc,
    subjects: bus.subjects,
    host,
    service: SERVICE,
    runtime: config.runtime,
    intervalMs: config.common.heartbeatIntervalMs,
    isConnected: () => sampling.isConnected(),
    livenessFile: config.common.livenessFile,
    logger,
  });
  logger.info("collecting");
}

main().catch((error: unknown) => {
  createLogger({ service: SERVICE, level: "info" }).fatal({ err: error }, "collector failed to start");
  process.exit(1);
});
