// The cri variant of the collector's config: the CRI socket and call deadline it shares with the
// watcher, and how long the container list (names, limits) is reused.
import type { CriTarget, EnvValues } from "@crowsnest/shared/agent";
import type { cgroupCollectorEnv } from "../../cgroup/cgroup-config.ts";

export interface CriCollectorSettings extends CriTarget {
  /** How long the sandbox and container lists (names, limits) are reused while no unknown container shows in the stats. */
  containerListMaxAgeMs: number;
}

/** The collector's config when it reads a CRI runtime. */
export interface CriCollectorTarget {
  runtime: "cri";
  cri: CriCollectorSettings;
}

export function criCollectorTarget(
  values: Pick<EnvValues<typeof cgroupCollectorEnv>, "CROWSNEST_CONTAINER_LIST_MAX_AGE_MS">,
  target: { cri: CriTarget },
): CriCollectorTarget {
  return {
    runtime: "cri",
    cri: { ...target.cri, containerListMaxAgeMs: values.CROWSNEST_CONTAINER_LIST_MAX_AGE_MS },
  };
}
