// The collector's Docker-only settings: their variables (documented with every other collector
// variable in config.ts's collectorEnv) and the Docker variant of the collector's config.
import { type EnvValues, envInteger } from "@crowsnest/shared/agent";
import { type CgroupSettings, type cgroupCollectorEnv, cgroupSettings } from "../../cgroup/cgroup-config.ts";

export const dockerCollectorEnv = {
  CROWSNEST_DOCKER_TIMEOUT_MS: envInteger({
    description:
      "Docker only: how long one Docker API call (list, stats, inspect) may take before it is abandoned.",
    default: 5000,
    min: 100,
    max: 120_000,
  }),
} as const;

export interface DockerCollectorSettings extends CgroupSettings {
  /** dockerd's socket (CROWSNEST_DOCKER_SOCKET, shared with the watcher). */
  socketPath: string;
  /** Bound on each Docker API call. */
  timeoutMs: number;
}

/** The collector's config when it reads dockerd. */
export interface DockerCollectorTarget {
  runtime: "docker";
  docker: DockerCollectorSettings;
}

export function dockerCollectorTarget(
  values: EnvValues<typeof dockerCollectorEnv & typeof cgroupCollectorEnv>,
  target: { docker: { socketPath: string } },
): DockerCollectorTarget {
  return {
    runtime: "docker",
    docker: {
      socketPath: target.docker.socketPath,
      timeoutMs: values.CROWSNEST_DOCKER_TIMEOUT_MS,
      ...cgroupSettings(values),
    },
  };
}
