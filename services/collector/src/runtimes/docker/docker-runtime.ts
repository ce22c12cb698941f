// The Docker runtime's module for the composition root: reaches dockerd, names the host after
// it, and builds the Docker adapter (cgroup files where readable, the Docker API otherwise).
// Loaded only when CROWSNEST_RUNTIME=docker.
import { type Logger, resolveRuntimeHostName } from "@crowsnest/shared/agent";
import { field } from "@crowsnest/shared/util/json-fields";
import type { PreparedRuntime, RuntimeModuleSettings } from "../runtime-module.ts";
import type { DockerCollectorTarget } from "./docker-config.ts";
import { createDockerSocketPort } from "./docker-socket-port.ts";
import { DockerStatsRuntime } from "./docker-stats-runtime.ts";
import { setUpFileReader } from "./file-reader-setup.ts";

export async function prepareDocker(
  config: DockerCollectorTarget & RuntimeModuleSettings,
  logger: Logger,
): Promise<PreparedRuntime> {
  const settings = config.docker;
  const docker = createDockerSocketPort({
    socketPath: settings.socketPath,
    maxSockets: config.collectConcurrency,
  });
  const host = await resolveRuntimeHostName({
    configured: config.hostName,
    askRuntime: async () => {
      const name = field(await docker.info(AbortSignal.timeout(settings.timeoutMs)), "Name");
      return typeof name === "string" ? name : undefined;
    },
    logger,
  });
  return {
    host,
    describe: {
      docker_socket: settings.socketPath,
      concurrency: config.collectConcurrency,
      docker_timeout_ms: settings.timeoutMs,
      container_list_max_age_ms: settings.containerListMaxAgeMs,
    },
    // The host itself is read from its /proc, independent of dockerd: a host whose engine is down still reports itself.
    hostStats: "procfs",
    createStatsRuntime: (serviceLogger) =>
      new DockerStatsRuntime({
        docker,
        concurrency: config.collectConcurrency,
        dockerTimeoutMs: settings.timeoutMs,
        files: setUpFileReader({
          source: settings.statsSource,
          cgroupRoot: settings.cgroupRoot,
          procRoot: config.procRoot,
          logger: serviceLogger,
        }),
        listMaxAgeMs: settings.containerListMaxAgeMs,
        logger: serviceLogger,
      }),
    close: () => docker.close(),
  };
}
