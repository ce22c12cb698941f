// The watcher's configuration: the only module that reads process.env. Every variable is
// declared once in watcherEnv (which also documents them and is checked against
// docker-compose.yml) and parsed into a typed WatcherConfig.
import {
  type CommonConfig,
  type ContainerdTarget,
  type CriTarget,
  commonConfigFrom,
  commonEnv,
  type EnvSource,
  type EnvValues,
  envInteger,
  envString,
  type KubernetesTarget,
  parseEnv,
  type RuntimeConfig,
  runtimeConfigFrom,
  runtimeEnv,
} from "@crowsnest/shared/agent";

export const watcherEnv = {
  ...commonEnv,
  ...runtimeEnv,
  CROWSNEST_INVENTORY_INTERVAL_MS: envInteger({
    description:
      "How often the full container inventory is republished, besides at start and after reconnects.",
    default: 300_000,
    min: 10_000,
    max: 86_400_000,
  }),
  CROWSNEST_DOCKER_TIMEOUT_MS: envInteger({
    description:
      "Docker only: how long one Docker API call (list, inspect, opening a log stream, replaying missed events) may take before it is abandoned.",
    default: 5000,
    min: 100,
    max: 120_000,
  }),
  CROWSNEST_INSPECT_CONCURRENCY: envInteger({
    description:
      "Docker only: how many containers are inspected at the same time when the watcher looks at every container (inventories, resynchronization).",
    default: 8,
    min: 1,
    max: 128,
  }),
  CROWSNEST_LOGS_MAX_CONCURRENT: envInteger({
    description:
      "Most log requests (follow or not) served at the same time; one more is answered `runtime_unavailable` at once.",
    default: 16,
    min: 1,
    max: 1024,
  }),
  CROWSNEST_LOGS_FOLLOW_MAX_MS: envInteger({
    description: "Longest a follow-mode log request streams before it ends with `done: true`.",
    default: 600_000,
    min: 1000,
    max: 86_400_000,
  }),
  CROWSNEST_LOGS_FOLLOW_PROBE_INTERVAL_MS: envInteger({
    description:
      "How often a follow-mode log stream sends an empty chunk that tells the requester the stream is alive and ends the stream when nobody is subscribed to the reply inbox any more.",
    default: 5000,
    min: 200,
    max: 600_000,
  }),
  CROWSNEST_NERDCTL_DATA_ROOT: envString({
    description:
      "containerd only: nerdctl's data root as the watcher sees it (mount the host's there in a container); the json-file logs of containers nerdctl created are read below it, and nowhere else.",
    default: "/var/lib/nerdctl",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_CRI_POLL_INTERVAL_MS: envInteger({
    description:
      "cri only: how often the pod sandboxes and containers are listed (ListPodSandbox + ListContainers, a status only for what changed); a status change reaches the bus within about this long.",
    default: 1000,
    min: 100,
    max: 60_000,
  }),
  CROWSNEST_CRI_LOG_ROOT: envString({
    description:
      "cri only: where the kubelet's container log files are as the watcher sees them (mount the host's `/var/log/pods` at the same path); a container's CRI log file is read only when it lies below it.",
    default: "/var/log/pods",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_KUBERNETES_TIMEOUT_MS: envInteger({
    description:
      "Kubernetes only: how long one API server call (a page of a list, opening a watch or a log stream) may take before it is abandoned.",
    default: 30_000,
    min: 500,
    max: 300_000,
  }),
  CROWSNEST_KUBERNETES_WATCH_STALL_MS: envInteger({
    description:
      "Kubernetes only: a watch that brings no event, bookmark or end for this long is considered dead and restarted (the API server is asked to end each watch after two thirds of it).",
    default: 90_000,
    min: 3000,
    max: 3_600_000,
  }),
} as const;

/** Docker's own settings, present only in Docker mode. */
export interface DockerWatcherSettings {
  socketPath: string;
  /** Deadline of one Docker API call. */
  timeoutMs: number;
  /** Inspect calls in flight at once when the watcher looks at every container. */
  inspectConcurrency: number;
}

/** Kubernetes's own settings, present only in Kubernetes mode. */
export interface KubernetesWatcherSettings extends KubernetesTarget {
  /** Deadline of one API server call. */
  timeoutMs: number;
  /** A watch silent for this long is restarted. */
  watchStallMs: number;
}

export interface ContainerdWatcherSettings extends ContainerdTarget {
  /** Where nerdctl's container logs are read (below it only). */
  nerdctlDataRoot: string;
}

export interface CriWatcherSettings extends CriTarget {
  /** Between two looks at the sandboxes and containers. */
  pollIntervalMs: number;
  /** Only log files below it are read. */
  logRoot: string;
}

/** One variant per runtime: a runtime's settings exist only when it is the one selected. */
export type WatcherRuntimeConfig =
  | { runtime: "docker"; docker: DockerWatcherSettings }
  | { runtime: "kubernetes"; kubernetes: KubernetesWatcherSettings }
  | { runtime: "containerd"; containerd: ContainerdWatcherSettings }
  | { runtime: "cri"; cri: CriWatcherSettings };

export type WatcherConfig = WatcherRuntimeConfig & {
  common: CommonConfig;
  /** Undefined: use the host name the runtime reports (or the Kubernetes node name). */
  hostName: string | undefined;
  inventoryIntervalMs: number;
  logsMaxConcurrent: number;
  logsFollowMaxMs: number;
  logsFollowProbeIntervalMs: number;
};

/** The configuration of one runtime's watcher. */
export type WatcherConfigFor<R extends WatcherRuntimeConfig["runtime"]> = Extract<
  WatcherConfig,
  { runtime: R }
>;

function runtimeSettings(target: RuntimeConfig, values: EnvValues<typeof watcherEnv>): WatcherRuntimeConfig {
  switch (target.runtime) {
    case "docker":
      return {
        runtime: "docker",
        docker: {
          socketPath: target.docker.socketPath,
          timeoutMs: values.CROWSNEST_DOCKER_TIMEOUT_MS,
          inspectConcurrency: values.CROWSNEST_INSPECT_CONCURRENCY,
        },
      };
    case "kubernetes":
      return {
        runtime: "kubernetes",
        kubernetes: {
          ...target.kubernetes,
          timeoutMs: values.CROWSNEST_KUBERNETES_TIMEOUT_MS,
          watchStallMs: values.CROWSNEST_KUBERNETES_WATCH_STALL_MS,
        },
      };
    case "containerd":
      return {
        runtime: "containerd",
        containerd: {
          ...target.containerd,
          nerdctlDataRoot: values.CROWSNEST_NERDCTL_DATA_ROOT,
        },
      };
    case "cri":
      return {
        runtime: "cri",
        cri: {
          ...target.cri,
          pollIntervalMs: values.CROWSNEST_CRI_POLL_INTERVAL_MS,
          logRoot: values.CROWSNEST_CRI_LOG_ROOT,
        },
      };
  }
}

export function parseWatcherConfig(env: EnvSource): WatcherConfig {
  const values = parseEnv(watcherEnv, env);
  const target = runtimeConfigFrom(values);
  return {
    common: commonConfigFrom(values),
    hostName: target.hostName,
    ...runtimeSettings(target, values),
    inventoryIntervalMs: values.CROWSNEST_INVENTORY_INTERVAL_MS,
    logsMaxConcurrent: values.CROWSNEST_LOGS_MAX_CONCURRENT,
    logsFollowMaxMs: values.CROWSNEST_LOGS_FOLLOW_MAX_MS,
    logsFollowProbeIntervalMs: values.CROWSNEST_LOGS_FOLLOW_PROBE_INTERVAL_MS,
  };
}

export function readConfig(): WatcherConfig {
  return parseWatcherConfig(process.env);
}
