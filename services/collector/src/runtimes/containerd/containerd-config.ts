// The containerd variant of the collector's config: containerd's own settings (shared with the
// watcher: socket, namespaces, call deadline) and the cgroup settings it shares with Docker.
import type { ContainerdTarget, EnvValues } from "@crowsnest/shared/agent";
import { type CgroupSettings, type cgroupCollectorEnv, cgroupSettings } from "../../cgroup/cgroup-config.ts";

export interface ContainerdCollectorSettings extends ContainerdTarget, CgroupSettings {}

/** The collector's config when it reads containerd. */
export interface ContainerdCollectorTarget {
  runtime: "containerd";
  containerd: ContainerdCollectorSettings;
}

export function containerdCollectorTarget(
  values: EnvValues<typeof cgroupCollectorEnv>,
  target: { containerd: ContainerdTarget },
): ContainerdCollectorTarget {
  return {
    runtime: "containerd",
    containerd: {
      ...target.containerd,
      ...cgroupSettings(values),
    },
  };
}
