// The Kubernetes runtime of the watcher: how it reaches the API server, which host name it
// publishes under, and the pod, node and service informers, log streams and inspections built
// on that client.
import { createKubeClient, kubernetesHostName, resolveKubeAccess } from "@crowsnest/shared/kubernetes";
import type { WatcherRuntimeModule } from "../watcher-runtime.ts";
import { createKubeInspector } from "./kube-inspector.ts";
import { createKubeLogsResponder } from "./kube-logs-responder.ts";
import { podRecordCodec } from "./kube-pod-record.ts";
import { createKubernetesWatcher } from "./kubernetes-watcher.ts";

export const kubernetesRuntime: WatcherRuntimeModule<"kubernetes"> = {
  async prepare(config) {
    const settings = config.kubernetes;
    const access = await resolveKubeAccess(settings);
    const host = kubernetesHostName(config, access, "watching");
    return {
      host,
      describe: { api_server: access.server.origin, node: settings.nodeName ?? null },
      build(context) {
        const { logger } = context;
        const client = createKubeClient({ access, timeoutMs: settings.timeoutMs });
        const watcher = createKubernetesWatcher({
          client,
          js: context.js,
          subjects: context.subjects,
          host,
          logger,
          nodeName: settings.nodeName,
          inventoryIntervalMs: config.inventoryIntervalMs,
          maxPayloadBytes: context.maxPayloadBytes,
          watchStallMs: settings.watchStallMs,
          requestTimeoutMs: settings.timeoutMs,
          publishedState: context.publishedState(podRecordCodec),
        });
        return {
          watcher,
          logs: createKubeLogsResponder({
            client,
            findContainer: watcher.findContainer,
            nc: context.nc,
            logger,
            requestTimeoutMs: settings.timeoutMs,
            maxConcurrent: config.logsMaxConcurrent,
            maxDurationMs: config.logsFollowMaxMs,
            probeIntervalMs: config.logsFollowProbeIntervalMs,
            maxPayloadBytes: context.maxPayloadBytes,
          }),
          inspect: createKubeInspector(watcher.findContainer),
          close: () => client.close(),
        };
      },
    };
  },
};
