// The cri variant of the collector's config: the CRI socket and call deadline it shares with the
// watcher, and the cgroup settings it shares with Docker and containerd (the fast path, how long
// the container lists are reused).
import type { CriTarget, EnvValues } from "@crowsnest/shared/agent";
import { type CgroupSettings, type cgroupCollectorEnv, cgroupSettings } from "../../cgroup/cgroup-config.ts";

export interface CriCollectorSettings extends CriTarget, CgroupSettings {}

/** The collector's config when it reads a CRI runtime. */
export interface CriCollectorTarget {
  runtime: "cri";
  cri: CriCollectorSettings;
}

export function criCollectorTarget(
  values: EnvValues<typeof cgroupCollectorEnv>,
  target: { cri: CriTarget },
): CriCollectorTarget {
  return { runtime: "cri", cri: { ...target.cri, ...cgroupSettings(values) } };
}
