// Composition root of the watcher: reads the configuration, connects to the container runtime
// (dockerd, or the Kubernetes API server when CROWSNEST_RUNTIME=kubernetes) and NATS, starts
// following the host's containers, answers log and inspect requests, publishes a heartbeat,
// and stops cleanly on SIGTERM. Kubernetes mode's modules are imported only in that mode.
import {
  ConfigError,
  createLogger,
  exitOnShutdownSignal,
  loadConfigOrExit,
  openBus,
  resolveRuntimeHostName,
  startHeartbeat,
} from "@crowsnest/shared";
import Docker from "dockerode";
import { readConfig, type WatcherConfig } from "./config.ts";
import { createDockerodeApi } from "./docker/dockerode-adapter.ts";
import type { PreparedRuntime } from "./kubernetes/kubernetes-wiring.ts";
import { createPublishedStateStore, openWatcherStateBucket } from "./recovery/published-state-store.ts";
import { rememberedContainerCodec } from "./resync/remembered-container-codec.ts";
import { createInspectResponder } from "./rpc/inspect-responder.ts";
import { createLogsResponder } from "./rpc/logs-responder.ts";
import { createRpcServer } from "./rpc/rpc-server.ts";
import { createWatcher } from "./watcher.ts";

// NATS's own default; used only until the server's INFO has been read.
const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

async function prepareDocker(config: WatcherConfig & { runtime: "docker" }): Promise<PreparedRuntime> {
  const host = await resolveRuntimeHostName({
    configured: config.hostName,
    askRuntime: async () =>
      ((await new Docker({ socketPath: config.docker.socketPath }).info()) as { Name?: string }).Name,
    logger: createLogger({ service: "watcher", level: config.common.logLevel }),
  });
  return {
    host,
    describe: { docker_socket: config.docker.socketPath },
    build(bus, logger, maxPayloadBytes) {
      const docker = createDockerodeApi({ socketPath: config.docker.socketPath });
      return {
        watcher: createWatcher({
          docker,
          js: bus.js,
          subjects: bus.subjects,
          host,
          logger,
          inventoryIntervalMs: config.inventoryIntervalMs,
          dockerTimeoutMs: config.dockerTimeoutMs,
          inspectConcurrency: config.inspectConcurrency,
          maxPayloadBytes,
          publishedState: createPublishedStateStore({
            openBucket: () =>
              openWatcherStateBucket(bus.js, bus.subjects, { replicas: bus.streamReplicas, logger }),
            host,
            runtime: "docker",
            codec: rememberedContainerCodec,
            logger,
          }),
        }),
        logs: createLogsResponder({
          docker,
          nc: bus.nc,
          logger,
          dockerTimeoutMs: config.dockerTimeoutMs,
          maxConcurrent: config.logsMaxConcurrent,
          maxDurationMs: config.logsFollowMaxMs,
          probeIntervalMs: config.logsFollowProbeIntervalMs,
          maxPayloadBytes,
        }),
        inspect: createInspectResponder({ docker, nc: bus.nc, logger, timeoutMs: config.dockerTimeoutMs }),
        close: () => undefined,
      };
    },
  };
}

async function prepareKubernetesOrExit(
  config: WatcherConfig & { runtime: "kubernetes" },
): Promise<PreparedRuntime> {
  const { prepareKubernetes } = await import("./kubernetes/kubernetes-wiring.ts");
  try {
    return await prepareKubernetes(config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    createLogger({ service: "watcher", level: "info" }).fatal({ code: error.code }, error.message);
    process.exit(1);
  }
}

const config = loadConfigOrExit("watcher", readConfig);
const prepared =
  config.runtime === "kubernetes" ? await prepareKubernetesOrExit(config) : await prepareDocker(config);
const { host } = prepared;
const logger = createLogger({ service: "watcher", level: config.common.logLevel, host });
logger.info({ runtime: config.runtime, ...prepared.describe }, "starting watcher");

const bus = await openBus({ config: config.common, service: "watcher", host, logger });

const maxPayloadBytes = () => bus.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD_BYTES;

const { watcher, logs, inspect, close } = prepared.build(bus, logger, maxPayloadBytes);
watcher.start();

const rpc = createRpcServer({ nc: bus.nc, subjects: bus.subjects, host, logger, logs, inspect });
rpc.start();

const heartbeat = startHeartbeat({
  nc: bus.nc,
  subjects: bus.subjects,
  host,
  service: "watcher",
  runtime: config.runtime,
  intervalMs: config.common.heartbeatIntervalMs,
  isConnected: () => watcher.isConnected(),
  livenessFile: config.common.livenessFile,
  logger,
});

exitOnShutdownSignal({
  logger,
  timeoutMs: config.common.shutdownTimeoutMs,
  async stop() {
    // Requests first: their follow streams end with `done: true` while the bus is still open.
    await rpc.stop();
    await watcher.stop();
    heartbeat.stop();
    await bus.drain();
    close();
  },
});
