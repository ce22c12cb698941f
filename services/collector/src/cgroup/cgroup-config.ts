// The variables of the cgroup fast path, shared by the runtimes that read their containers'
// cgroup files (Docker, containerd, cri); documented with every other collector variable in
// config.ts's collectorEnv.
import { type EnvValues, envEnum, envInteger, envString } from "@crowsnest/shared/agent";

export const cgroupCollectorEnv = {
  CROWSNEST_STATS_SOURCE: envEnum(["auto", "api"], {
    description:
      "Docker, containerd and cri: where container stats come from. `auto`: each container's cgroup files (and /proc/<pid>/net/dev) where readable, the runtime's API for the others (Docker's stats, containerd's `Tasks.Metrics`, the CRI's `ListContainerStats`); `api`: the runtime's API for every container (on containerd, network counters still come from /proc/<pid>/net/dev, which Metrics lacks; on cri, a pod's network always comes from `ListPodSandboxStats`).",
    default: "auto",
  }),
  CROWSNEST_CGROUP_ROOT: envString({
    description:
      "Docker, containerd and cri: where the host's cgroup filesystem is visible (read-only is enough); in a container, mount the host's /sys/fs/cgroup and point here.",
    default: "/sys/fs/cgroup",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_CONTAINER_LIST_MAX_AGE_MS: envInteger({
    description:
      "Docker and containerd, with cgroup files as the source: the container list (containerd: the task list) is fetched from the runtime only when the host's container cgroups change, and at the latest when it is this old (a `docker rename` or `docker update` of a limit, or a changed nerdctl name or limit, shows within it); cri: the sandbox and container lists are fetched only when a running container is not known yet (with cgroup files as the source the container list is fetched every tick, to know which containers run), and at the latest when this old; 0: every tick.",
    default: 60_000,
    min: 0,
    max: 3_600_000,
  }),
} as const;

export interface CgroupSettings {
  statsSource: "auto" | "api";
  cgroupRoot: string;
  containerListMaxAgeMs: number;
}

export function cgroupSettings(values: EnvValues<typeof cgroupCollectorEnv>): CgroupSettings {
  return {
    statsSource: values.CROWSNEST_STATS_SOURCE,
    cgroupRoot: values.CROWSNEST_CGROUP_ROOT,
    containerListMaxAgeMs: values.CROWSNEST_CONTAINER_LIST_MAX_AGE_MS,
  };
}
