// The containerd runtime's module for the composition root: reaches containerd's socket, names
// the host, and builds the containerd adapter (cgroup files where readable, `Tasks.Metrics`
// otherwise). Loaded only when CROWSNEST_RUNTIME=containerd.
//
// containerd reports no host name (Docker's info has one, a Kubernetes node has its name): the
// host is named after the machine the collector runs on, os.hostname(), unless
// CROWSNEST_HOST_NAME says otherwise. In a container that is the container's own host name
// unless it shares the host's UTS namespace (compose: `uts: host`), so set one of the two.
import { hostname } from "node:os";
import { type Logger, resolveRuntimeHostName } from "@crowsnest/shared/agent";
import { ContainerdClient } from "@crowsnest/shared/containerd";
import type { CgroupNaming } from "../../cgroup/cgroup-stats-reader.ts";
import { setUpCgroupReader } from "../../cgroup/file-reader-setup.ts";
import type { PreparedRuntime, RuntimeModuleSettings } from "../runtime-module.ts";
import type { ContainerdCollectorTarget } from "./containerd-config.ts";
import type { ContainerdProcess } from "./containerd-reading.ts";
import { ContainerdStatsRuntime } from "./containerd-stats-runtime.ts";

/** Where runc put a containerd container's cgroup: its spec says (containerd-reading.ts). */
export const containerdCgroupNaming: CgroupNaming<ContainerdProcess> = {
  cgroupCandidates: (_key, process) => [process.record.cgroupPath],
  hasOwnNetwork: (process) => process.record.ownNetwork,
  pid: (process) => process.pid,
  // Containers live under their namespace's directory, or wherever their spec says: the runtime
  // watches the directories its containers are in (cgroupEntries), not fixed parents.
  defaultParents: [],
};

export async function prepareContainerd(
  config: ContainerdCollectorTarget & RuntimeModuleSettings,
  logger: Logger,
): Promise<PreparedRuntime> {
  const settings = config.containerd;
  const client = new ContainerdClient({ socketPath: settings.socketPath });
  const host = await resolveRuntimeHostName({
    configured: config.hostName,
    askRuntime: async () => hostname(),
    logger,
  });
  return {
    host,
    describe: {
      containerd_socket: settings.socketPath,
      // null: every namespace containerd lists, except the ones other runtimes report.
      containerd_namespaces: settings.namespaces ?? null,
      containerd_timeout_ms: settings.timeoutMs,
      container_list_max_age_ms: settings.containerListMaxAgeMs,
    },
    // The host itself is read from its /proc, independent of containerd.
    hostStats: "procfs",
    createStatsRuntime: (serviceLogger) =>
      new ContainerdStatsRuntime({
        containerd: client,
        namespaces: settings.namespaces,
        timeoutMs: settings.timeoutMs,
        files: setUpCgroupReader({
          source: settings.statsSource,
          cgroupRoot: settings.cgroupRoot,
          procRoot: config.procRoot,
          naming: containerdCgroupNaming,
          apiName: "containerd's Metrics API",
          logger: serviceLogger,
        }),
        procRoot: config.procRoot,
        listMaxAgeMs: settings.containerListMaxAgeMs,
        logger: serviceLogger,
      }),
    close: () => client.close(),
  };
}
