// Every runtime the watcher can follow, each loaded only when it is the one selected: Docker
// mode never loads the Kubernetes modules, Kubernetes mode never loads dockerode, only containerd and cri modes load gRPC. Typed by the
// shared list of runtimes, so a runtime added there does not compile until it has an entry here.
import type { Logger, Runtime } from "@crowsnest/shared/agent";
import type { WatcherConfig } from "../config.ts";
import type { PreparedRuntime, WatcherRuntimeModule } from "./watcher-runtime.ts";

export const watcherRuntimes: { [R in Runtime]: () => Promise<WatcherRuntimeModule<R>> } = {
  docker: async () => (await import("./docker/docker-runtime.ts")).dockerRuntime,
  kubernetes: async () => (await import("./kubernetes/kubernetes-runtime.ts")).kubernetesRuntime,
  containerd: async () => (await import("./containerd/containerd-runtime.ts")).containerdRuntime,
  cri: async () => (await import("./cri/cri-runtime.ts")).criRuntime,
};

/** Loads the selected runtime and reaches it. */
export async function prepareRuntime(config: WatcherConfig, logger: Logger): Promise<PreparedRuntime> {
  // The entry for config.runtime takes exactly config's variant, which TypeScript cannot relate
  // through the index: the cast says so.
  const load = watcherRuntimes[config.runtime] as () => Promise<WatcherRuntimeModule<Runtime>>;
  return (await load()).prepare(config, logger);
}
