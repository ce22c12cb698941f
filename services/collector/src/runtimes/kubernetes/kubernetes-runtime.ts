// The Kubernetes runtime's module for the composition root: how the collector reaches the API
// server (a kubeconfig, or the pod's service account when it runs in a cluster) and, in node mode,
// the node's kubelet; which host name it publishes under; and the Kubernetes adapter. Loaded only
// when CROWSNEST_RUNTIME=kubernetes, so Docker mode loads none of it.
import type { Logger } from "@crowsnest/shared/agent";
import {
  createKubeClient,
  type KubeClient,
  kubernetesHostName,
  resolveKubeAccess,
} from "@crowsnest/shared/kubernetes";
import type { PreparedRuntime, RuntimeModuleSettings } from "../runtime-module.ts";
import { kubeletAccess } from "./kubelet-access.ts";
import type { KubernetesCollectorTarget } from "./kubernetes-config.ts";
import { KubernetesStatsRuntime } from "./kubernetes-stats-runtime.ts";
import { readNodeLoad } from "./node-load.ts";

export async function prepareKubernetes(
  config: KubernetesCollectorTarget & RuntimeModuleSettings,
  _logger: Logger,
): Promise<PreparedRuntime> {
  const settings = config.kubernetes;
  const access = await resolveKubeAccess(settings);
  const host = kubernetesHostName(config, access, "sampling");
  const { nodeName } = settings;
  const kubelet = settings.kubelet === undefined ? undefined : await kubeletAccess(access, settings.kubelet);
  const clients: KubeClient[] = [];
  return {
    host,
    describe: {
      api_server: access.server.origin,
      node: nodeName ?? null,
      // Where the node summaries come from: the node's kubelet itself, or the API server's node proxy.
      summary_from: kubelet === undefined ? "node_proxy" : kubelet.server.origin,
      kubernetes_timeout_ms: settings.timeoutMs,
      spec_max_age_ms: settings.specMaxAgeMs,
    },
    // A node's host sample comes from its summary; a whole cluster has no load average or uptime.
    hostStats: nodeName === undefined ? "none" : "runtime",
    createStatsRuntime(logger) {
      const client = createKubeClient({ access, timeoutMs: settings.timeoutMs });
      clients.push(client);
      const kubeletClient =
        kubelet === undefined
          ? undefined
          : createKubeClient({ access: kubelet, timeoutMs: settings.timeoutMs });
      if (kubeletClient !== undefined) clients.push(kubeletClient);
      if (nodeName === undefined) {
        logger.info(
          "sampling the whole cluster: no host samples (a cluster has no load average or uptime, which host samples require; run one collector per node for them)",
        );
      }
      return new KubernetesStatsRuntime({
        api: client,
        kubelet: kubeletClient,
        host,
        nodeName,
        concurrency: config.collectConcurrency,
        timeoutMs: settings.timeoutMs,
        specMaxAgeMs: settings.specMaxAgeMs,
        readNodeLoad: nodeName === undefined ? undefined : () => readNodeLoad(config.procRoot),
        logger,
      });
    },
    close: () => {
      for (const client of clients) client.close();
    },
  };
}
