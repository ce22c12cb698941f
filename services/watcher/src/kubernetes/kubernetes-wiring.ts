// The Kubernetes half of the watcher's composition root: how main.ts reaches the API server,
// which host name it publishes under, and the watcher and RPC responders of Kubernetes mode.
// main.ts imports it only when CROWSNEST_RUNTIME=kubernetes, so Docker mode loads none of it.
import { type Bus, ConfigError, type Logger } from "@crowsnest/shared";
import { createKubeClient, type KubeAccess, resolveKubeAccess } from "@crowsnest/shared/kubernetes";
import type { WatcherConfig } from "../config.ts";
import type { InspectResponder } from "../rpc/inspect-responder.ts";
import type { LogsResponder } from "../rpc/logs-responder.ts";
import { createKubeInspectResponder } from "./kube-inspect-responder.ts";
import { createKubeLogsResponder } from "./kube-logs-responder.ts";
import { createKubernetesWatcher } from "./kubernetes-watcher.ts";

export interface RuntimeParts {
  watcher: { start(): void; stop(): Promise<void>; isConnected(): boolean };
  logs: LogsResponder;
  inspect: InspectResponder;
  /** Releases what the runtime holds (connections) once everything has stopped. */
  close(): void;
}

/**
 * The host name of a Kubernetes watcher: CROWSNEST_HOST_NAME, else the node name (both already
 * in config.hostName), else the kubeconfig's cluster name. In a pod watching the whole cluster
 * there is none of these, and guessing one would split the host's data: a ConfigError.
 */
export function kubernetesHostName(
  config: Pick<WatcherConfig, "hostName">,
  access: Pick<KubeAccess, "clusterName">,
): string {
  const host = config.hostName ?? access.clusterName;
  if (host === undefined) {
    throw new ConfigError(
      "CROWSNEST_HOST_NAME is required in Kubernetes mode when watching a whole cluster from inside it (set it, or CROWSNEST_KUBERNETES_NODE_NAME for one node)",
    );
  }
  return host;
}

/** A runtime reached and named, ready to be built once the bus is open (main.ts does the same for Docker). */
export interface PreparedRuntime {
  host: string;
  /** Fields of the "starting watcher" log line. */
  describe: Record<string, unknown>;
  build(bus: Bus, logger: Logger, maxPayloadBytes: () => number): RuntimeParts;
}

export async function prepareKubernetes(config: WatcherConfig): Promise<PreparedRuntime> {
  const access = await resolveKubeAccess(config.kubernetes);
  const host = kubernetesHostName(config, access);
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
