// The watcher's runtime-neutral core, wired: reads the configuration, loads and reaches the
// selected runtime (runtimes/registry.ts; only that runtime's modules are loaded), connects to
// NATS, builds the runtime's watcher and responders on it, answers log and inspect requests,
// publishes a heartbeat, and on SIGTERM releases everything in reverse order.
import { createLogger, openBus, type ServiceLifecycle, startHeartbeat } from "@crowsnest/shared/agent";
import { JetStreamAckPublisher } from "@crowsnest/shared/publishing";
import { readConfig } from "./config.ts";
import { createPublishedStateStore, openWatcherStateBucket } from "./recovery/published-state-store.ts";
import { createInspectResponder } from "./rpc/inspect-responder.ts";
import { createRpcServer } from "./rpc/rpc-server.ts";
import { prepareRuntime } from "./runtimes/registry.ts";

// NATS's own default; used only until the server's INFO has been read.
const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

export async function runWatcher(lifecycle: ServiceLifecycle): Promise<void> {
  const config = readConfig();
  const prepared = await prepareRuntime(
    config,
    createLogger({ service: "watcher", level: config.common.logLevel }),
  );
  const { host } = prepared;
  const logger = createLogger({ service: "watcher", level: config.common.logLevel, host });
  lifecycle.configure({ logger, shutdownTimeoutMs: config.common.shutdownTimeoutMs });
  logger.info({ runtime: config.runtime, ...prepared.describe }, "starting watcher");

  const bus = await openBus({
    config: config.common,
    service: "watcher",
    host,
    logger,
    // Every event is followed by two writes of the published state (JetStream KV puts, each a
    // request); without a JIT, the two stacks the client captures for each are a measurable
    // part of an event's CPU (docs/benchmarks.md). A failed write is logged with its message.
    asyncTraces: false,
  });
  lifecycle.defer("NATS connection", () => bus.drain());
  lifecycle.exitWhenLost("NATS connection", bus.closed());
  const js = new JetStreamAckPublisher({ nc: bus.nc, inboxPrefix: config.common.natsInboxPrefix });
  lifecycle.defer("JetStream publisher", () => js.close());

  const { watcher, logs, inspect, close } = prepared.build({
    host,
    logger,
    subjects: bus.subjects,
    js,
    nc: bus.nc,
    maxPayloadBytes: () => bus.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD_BYTES,
    publishedState: (codec) =>
      createPublishedStateStore({
        openBucket: () =>
          openWatcherStateBucket(bus.js, bus.subjects, { replicas: bus.streamReplicas, logger }),
        host,
        runtime: config.runtime,
        codec,
        logger,
      }),
  });
  lifecycle.defer(`${config.runtime} client`, close);

  const heartbeat = startHeartbeat({
    nc: bus.nc,
    subjects: bus.subjects,
    host,
    service: "watcher",
    runtime: config.runtime,
    runtimeApiVersion: prepared.runtimeApiVersion,
    intervalMs: config.common.heartbeatIntervalMs,
    isConnected: () => watcher.isConnected(),
    livenessFile: config.common.livenessFile,
    logger,
  });
  lifecycle.defer("heartbeat", () => heartbeat.stop());

  watcher.start();
  lifecycle.defer("watcher", () => watcher.stop());

  const rpc = createRpcServer({
    nc: bus.nc,
    subjects: bus.subjects,
    host,
    logger,
    logs,
    inspect: createInspectResponder({ inspect, nc: bus.nc, logger }),
  });
  rpc.start();
  // Requests first: their follow streams end with `done: true` while the bus is still open.
  lifecycle.defer("RPC server", () => rpc.stop());
}
