// The collector's Docker-only settings: their variables (documented with every other collector
// variable in config.ts's collectorEnv) and the Docker variant of the collector's config.
import { type EnvValues, envEnum, envInteger, envString } from "@crowsnest/shared";

export const dockerCollectorEnv = {
  CROWSNEST_DOCKER_TIMEOUT_MS: envInteger({
    description:
      "Docker only: how long one Docker API call (list, stats, inspect) may take before it is abandoned.",
    default: 5000,
    min: 100,
    max: 120_000,
  }),
  CROWSNEST_STATS_SOURCE: envEnum(["auto", "api"], {
    description:
      "Docker only: where container stats come from. `auto`: each container's cgroup files (and /proc/<pid>/net/dev) where readable, the Docker API for the others; `api`: the Docker API for every container.",
    default: "auto",
  }),
  CROWSNEST_CGROUP_ROOT: envString({
    description:
      "Docker only: where the host's cgroup filesystem is visible (read-only is enough); in a container, mount the host's /sys/fs/cgroup and point here.",
    default: "/sys/fs/cgroup",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_CONTAINER_LIST_MAX_AGE_MS: envInteger({
    description:
      "Docker only, with cgroup files as the source: the container list is fetched from dockerd only when the host's container cgroups change, and at the latest when it is this old (a `docker rename` shows within it); 0: every tick.",
    default: 60_000,
    min: 0,
    max: 3_600_000,
  }),
} as const;

export interface DockerCollectorSettings {
  /** dockerd's socket (CROWSNEST_DOCKER_SOCKET, shared with the watcher). */
  socketPath: string;
  /** Bound on each Docker API call. */
  timeoutMs: number;
  statsSource: "auto" | "api";
  cgroupRoot: string;
  containerListMaxAgeMs: number;
}

/** The collector's config when it reads dockerd. */
export interface DockerCollectorTarget {
  runtime: "docker";
  docker: DockerCollectorSettings;
}

export function dockerCollectorTarget(
  values: EnvValues<typeof dockerCollectorEnv>,
  target: { docker: { socketPath: string } },
): DockerCollectorTarget {
  return {
    runtime: "docker",
    docker: {
      socketPath: target.docker.socketPath,
      timeoutMs: values.CROWSNEST_DOCKER_TIMEOUT_MS,
      statsSource: values.CROWSNEST_STATS_SOURCE,
      cgroupRoot: values.CROWSNEST_CGROUP_ROOT,
      containerListMaxAgeMs: values.CROWSNEST_CONTAINER_LIST_MAX_AGE_MS,
    },
  };
}
