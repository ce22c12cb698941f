// Composition root of the watcher: reads the configuration, connects to dockerd and NATS,
// starts following the host's containers, answers log and inspect requests, publishes a
// heartbeat, and stops cleanly on SIGTERM.
import {
  createLogger,
  exitOnShutdownSignal,
  loadConfigOrExit,
  openBus,
  resolveRuntimeHostName,
  startHeartbeat,
} from "@crowsnest/shared";
import Docker from "dockerode";
import { readConfig } from "./config.ts";
import { createDockerodeApi } from "./docker/dockerode-adapter.ts";
import { createInspectResponder } from "./rpc/inspect-responder.ts";
import { createLogsResponder } from "./rpc/logs-responder.ts";
import { createRpcServer } from "./rpc/rpc-server.ts";
import { createWatcher } from "./watcher.ts";

// NATS's own default; used only until the server's INFO has been read.
const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

const config = loadConfigOrExit("watcher", readConfig);
const host = await resolveRuntimeHostName({
  configured: config.hostName,
  askRuntime: async () =>
    ((await new Docker({ socketPath: config.dockerSocketPath }).info()) as { Name?: string }).Name,
  logger: createLogger({ service: "watcher", level: config.common.logLevel }),
});
const logger = createLogger({ service: "watcher", level: config.common.logLevel, host });
logger.info({ docker_socket: config.dockerSocketPath }, "starting watcher");

const docker = createDockerodeApi({ socketPath: config.dockerSocketPath });
const bus = await openBus({ config: config.common, service: "watcher", host, logger });

const maxPayloadBytes = () => bus.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD_BYTES;

const watcher = createWatcher({
  docker,
  js: bus.js,
  subjects: bus.subjects,
  host,
  logger,
  inventoryIntervalMs: config.inventoryIntervalMs,
  dockerTimeoutMs: config.dockerTimeoutMs,
  inspectConcurrency: config.inspectConcurrency,
  maxPayloadBytes,
});
watcher.start();

const rpc = createRpcServer({
  nc: bus.nc,
  subjects: bus.subjects,
  host,
  logger,
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
});
rpc.start();

const heartbeat = startHeartbeat({
  nc: bus.nc,
  subjects: bus.subjects,
  host,
  service: "watcher",
  runtime: "docker",
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
  },
});
