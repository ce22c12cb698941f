// The Kubernetes half of the watcher's composition root: how main.ts reaches the API server,
// which host name it publishes under, and the watcher and RPC responders of Kubernetes mode.
// main.ts imports it only when CROWSNEST_RUNTIME=kubernetes, so Docker mode loads none of it.
import type { Bus, Logger } from "@crowsnest/shared";
import { createKubeClient, kubernetesHostName, resolveKubeAccess } from "@crowsnest/shared/kubernetes";
import type { WatcherConfig } from "../config.ts";
import { createPublishedStateStore, openWatcherStateBucket } from "../recovery/published-state-store.ts";
import type { InspectResponder } from "../rpc/inspect-responder.ts";
import type { LogsResponder } from "../rpc/logs-responder.ts";
import { createKubeInspectResponder } from "./kube-inspect-responder.ts";
import { createKubeLogsResponder } from "./kube-logs-responder.ts";
import { podRecordCodec } from "./kube-pod-record.ts";
import { createKubernetesWatcher } from "./kubernetes-watcher.ts";

export interface RuntimeParts {
  watcher: { start(): void; stop(): Promise<void>; isConnected(): boolean };
  logs: LogsResponder;
  inspect: InspectResponder;
  /** Releases what the runtime holds (connections) once everything has stopped. */
  close(): void;
}

/** A runtime reached and named, ready to be built once the bus is open (main.ts does the same for Docker). */
export interface PreparedRuntime {
  host: string;
  /** Fields of the "starting watcher" log line. */
  describe: Record<string, unknown>;
  build(bus: Bus, logger: Logger, maxPayloadBytes: () => number): RuntimeParts;
}

export async function prepareKubernetes(
  config: WatcherConfig & { runtime: "kubernetes" },
): Promise<PreparedRuntime> {
  const access = await resolveKubeAccess(config.kubernetes);
  const host = kubernetesHostName(config, access, "watching");
  return {
    host,
    describe: { api_server: access.server.origin, node: config.kubernetes.nodeName ?? null },
    build(bus, logger, maxPayloadBytes) {
      const client = createKubeClient({ access, timeoutMs: config.kubernetesTimeoutMs });
      const watcher = createKubernetesWatcher({
        client,
        js: bus.js,
        subjects: bus.subjects,
        host,
        logger,
        nodeName: config.kubernetes.nodeName,
        inventoryIntervalMs: config.inventoryIntervalMs,
        maxPayloadBytes,
        watchStallMs: config.kubernetesWatchStallMs,
        requestTimeoutMs: config.kubernetesTimeoutMs,
        publishedState: createPublishedStateStore({
          openBucket: () =>
            openWatcherStateBucket(bus.js, bus.subjects, { replicas: bus.streamReplicas, logger }),
          host,
          runtime: "kubernetes",
          codec: podRecordCodec,
          logger,
        }),
      });
      return {
        watcher,
        logs: createKubeLogsResponder({
          client,
          findContainer: watcher.findContainer,
          nc: bus.nc,
          logger,
          requestTimeoutMs: config.kubernetesTimeoutMs,
          maxConcurrent: config.logsMaxConcurrent,
          maxDurationMs: config.logsFollowMaxMs,
          probeIntervalMs: config.logsFollowProbeIntervalMs,
          maxPayloadBytes,
        }),
        inspect: createKubeInspectResponder({ findContainer: watcher.findContainer, nc: bus.nc, logger }),
        close: () => client.close(),
      };
    },
  };
}
