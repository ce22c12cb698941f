// The Kubernetes half of the collector's composition root: how main.ts reaches the API server
// (a kubeconfig, or the pod's service account when it runs in a cluster), which host name it
// publishes under, and the sampling of Kubernetes mode. main.ts imports it only when
// CROWSNEST_RUNTIME=kubernetes, so Docker mode loads none of it.
import type { Logger } from "@crowsnest/shared";
import { createKubeClient, kubernetesHostName, resolveKubeAccess } from "@crowsnest/shared/kubernetes";
import type { CollectorConfig } from "../config.ts";
import type { HostStatsSink } from "../host/host-stats-collector.ts";
import type { StatsSink } from "../sampling/stats-sink.ts";
import { kubeletAccess } from "./kubelet-access.ts";
import { KubernetesStatsCollector } from "./kubernetes-stats-collector.ts";
import { readNodeLoad } from "./node-load.ts";

/** What the collector runs on a runtime once the bus is up. */
export interface Sampling {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The heartbeat's `connected`: whether the runtime answered the last tick. */
  isConnected(): boolean;
  /** Releases what the runtime holds (connections) once everything has stopped. */
  close(): void;
}

export async function prepareKubernetes(config: CollectorConfig & { runtime: "kubernetes" }): Promise<{
  host: string;
  describe: Record<string, unknown>;
  build(sinks: { stats: StatsSink; hostStats: HostStatsSink }, logger: Logger): Sampling;
}> {
  const access = await resolveKubeAccess(config.kubernetes);
  const host = kubernetesHostName(config, access, "sampling");
  const { nodeName } = config.kubernetes;
  const kubelet = config.kubelet === undefined ? undefined : await kubeletAccess(access, config.kubelet);
  return {
    host,
    describe: {
      api_server: access.server.origin,
      node: nodeName ?? null,
      // Where the node summaries come from: the node's kubelet itself, or the API server's node proxy.
      summary_from: kubelet === undefined ? "node_proxy" : kubelet.server.origin,
      kubernetes_timeout_ms: config.kubernetesTimeoutMs,
      spec_max_age_ms: config.kubernetesSpecMaxAgeMs,
    },
    build(sinks, logger) {
      const client = createKubeClient({ access, timeoutMs: config.kubernetesTimeoutMs });
      const kubeletClient =
        kubelet === undefined
          ? undefined
          : createKubeClient({ access: kubelet, timeoutMs: config.kubernetesTimeoutMs });
      if (nodeName === undefined) {
        logger.info(
          "sampling the whole cluster: no host samples (a cluster has no load average or uptime, which host samples require; run one collector per node for them)",
        );
      }
      const collector = new KubernetesStatsCollector({
        api: client,
        kubelet: kubeletClient,
        sink: sinks.stats,
        host,
        nodeName,
        intervalMs: config.collectIntervalMs,
        concurrency: config.collectConcurrency,
        timeoutMs: config.kubernetesTimeoutMs,
        specMaxAgeMs: config.kubernetesSpecMaxAgeMs,
        hostStats:
          nodeName === undefined
            ? undefined
            : { sink: sinks.hostStats, readLoad: () => readNodeLoad(config.procRoot) },
        logger,
      });
      return {
        start: () => collector.start(),
        stop: () => collector.stop(),
        isConnected: () => collector.apiReachable,
        close: () => {
          client.close();
          kubeletClient?.close();
        },
      };
    },
  };
}
