// The collector's runtime registry: for each runtime of the shared RUNTIMES list, its variables,
// its variant of the collector's config, and its module, imported only when that runtime is
// selected (Docker mode loads no Kubernetes or containerd client, and so on). Adding a
// runtime means a folder beside docker/ and kubernetes/ and its case in each switch below; the
// switches are exhaustive, so a runtime added to RUNTIMES without them does not compile.
import type { EnvValues, Logger, RuntimeTarget } from "@crowsnest/shared/agent";
import { cgroupCollectorEnv } from "../cgroup/cgroup-config.ts";
import { type ContainerdCollectorTarget, containerdCollectorTarget } from "./containerd/containerd-config.ts";
import { type CriCollectorTarget, criCollectorTarget } from "./cri/cri-config.ts";
import {
  type DockerCollectorTarget,
  dockerCollectorEnv,
  dockerCollectorTarget,
} from "./docker/docker-config.ts";
import {
  checkKubeletSettings,
  type KubernetesCollectorTarget,
  kubernetesCollectorEnv,
  kubernetesCollectorTarget,
} from "./kubernetes/kubernetes-config.ts";
import type { PreparedRuntime, RuntimeModuleSettings } from "./runtime-module.ts";

/** Every runtime's own variables; all are parsed whichever runtime is selected, so a bad one is never ignored. */
export const runtimeCollectorEnv = {
  ...cgroupCollectorEnv,
  ...dockerCollectorEnv,
  ...kubernetesCollectorEnv,
} as const;

/** The runtime the collector reads, with that runtime's settings only. */
export type CollectorTarget =
  | DockerCollectorTarget
  | KubernetesCollectorTarget
  | ContainerdCollectorTarget
  | CriCollectorTarget;

/** Throws a ConfigError when the runtimes' variables contradict each other. */
export function collectorTargetFrom(
  values: EnvValues<typeof runtimeCollectorEnv> & { CROWSNEST_KUBERNETES_NODE_NAME: string | undefined },
  target: RuntimeTarget,
): CollectorTarget {
  checkKubeletSettings(values);
  switch (target.runtime) {
    case "docker":
      return dockerCollectorTarget(values, target);
    case "kubernetes":
      return kubernetesCollectorTarget(values, target);
    case "containerd":
      return containerdCollectorTarget(values, target);
    case "cri":
      return criCollectorTarget(values, target);
  }
}

/** Loads the selected runtime's module and reaches the runtime (a ConfigError when it cannot be named). */
export async function prepareRuntime(
  config: CollectorTarget & RuntimeModuleSettings,
  logger: Logger,
): Promise<PreparedRuntime> {
  switch (config.runtime) {
    case "docker": {
      const { prepareDocker } = await import("./docker/docker-runtime.ts");
      return prepareDocker(config, logger);
    }
    case "kubernetes": {
      const { prepareKubernetes } = await import("./kubernetes/kubernetes-runtime.ts");
      return prepareKubernetes(config, logger);
    }
    case "containerd": {
      const { prepareContainerd } = await import("./containerd/containerd-runtime.ts");
      return prepareContainerd(config, logger);
    }
    case "cri": {
      const { prepareCri } = await import("./cri/cri-runtime.ts");
      return prepareCri(config, logger);
    }
  }
}
