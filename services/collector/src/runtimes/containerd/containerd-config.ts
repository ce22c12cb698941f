// The collector's containerd-only settings: their variables (documented with every other
// collector variable in config.ts's collectorEnv) and the containerd variant of the collector's config.
import { type ContainerdTarget, type EnvValues, envInteger } from "@crowsnest/shared";
import { type CgroupSettings, type cgroupCollectorEnv, cgroupSettings } from "../../cgroup/cgroup-config.ts";

export const containerdCollectorEnv = {
  CROWSNEST_CONTAINERD_TIMEOUT_MS: envInteger({
    description:
      "containerd only: how long one containerd API call (the namespace, task or container list, `Tasks.Metrics`) may take before it is abandoned.",
    default: 5000,
    min: 100,
    max: 120_000,
  }),
} as const;

export interface ContainerdCollectorSettings extends ContainerdTarget, CgroupSettings {
  /** Bound on each containerd API call. */
  timeoutMs: number;
}

/** The collector's config when it reads containerd. */
export interface ContainerdCollectorTarget {
  runtime: "containerd";
  containerd: ContainerdCollectorSettings;
}

export function containerdCollectorTarget(
  values: EnvValues<typeof containerdCollectorEnv & typeof cgroupCollectorEnv>,
  target: { containerd: ContainerdTarget },
): ContainerdCollectorTarget {
  return {
    runtime: "containerd",
    containerd: {
      ...target.containerd,
      timeoutMs: values.CROWSNEST_CONTAINERD_TIMEOUT_MS,
      ...cgroupSettings(values),
    },
  };
}
