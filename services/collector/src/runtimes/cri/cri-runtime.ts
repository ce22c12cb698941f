// The CRI runtime's module for the collector's composition root: finds the node's CRI socket
// (configured, or the first default one that answers), names the host (configured, or the
// machine's: the CRI reports none) and builds the adapter (cgroup files where readable,
// ListContainerStats otherwise). Loaded only when CROWSNEST_RUNTIME=cri.
import { hostname } from "node:os";
import { type Logger, resolveRuntimeHostName } from "@crowsnest/shared/agent";
import { openCriClient } from "@crowsnest/shared/cri";
import { setUpCgroupReader } from "../../cgroup/file-reader-setup.ts";
import type { PreparedRuntime, RuntimeModuleSettings } from "../runtime-module.ts";
import type { CriCollectorTarget } from "./cri-config.ts";
import { CriStatsRuntime, criCgroupNaming } from "./cri-stats-runtime.ts";

export async function prepareCri(
  config: CriCollectorTarget & RuntimeModuleSettings,
  logger: Logger,
): Promise<PreparedRuntime> {
  const settings = config.cri;
  const client = await openCriClient(settings.socketPath, settings.timeoutMs);
  const host = await resolveRuntimeHostName({
    configured: config.hostName,
    askRuntime: async () => hostname(),
    logger,
  });
  return {
    host,
    describe: {
      cri_socket: client.socketPath,
      cri_timeout_ms: settings.timeoutMs,
      container_list_max_age_ms: settings.containerListMaxAgeMs,
    },
    runtimeApiVersion: () => client.negotiatedApiVersion,
    // The node itself is read from its /proc, as on a Docker or containerd host.
    hostStats: "procfs",
    createStatsRuntime: (serviceLogger) =>
      new CriStatsRuntime({
        cri: client,
        timeoutMs: settings.timeoutMs,
        listMaxAgeMs: settings.containerListMaxAgeMs,
        files: setUpCgroupReader({
          source: settings.statsSource,
          cgroupRoot: settings.cgroupRoot,
          procRoot: config.procRoot,
          naming: criCgroupNaming,
          apiName: "the CRI's ListContainerStats",
          logger: serviceLogger,
        }),
        logger: serviceLogger,
      }),
    close: () => client.close(),
  };
}
