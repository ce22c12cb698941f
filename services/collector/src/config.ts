// The collector's configuration: every variable it reads, with meaning and default, and the
// typed config built from them. The only module of the collector that reads process.env.
import {
  type CommonConfig,
  ConfigError,
  commonConfigFrom,
  commonEnv,
  type EnvSource,
  envBoolean,
  envEnum,
  envInteger,
  envOptionalString,
  envString,
  parseEnv,
  type RuntimeConfig,
  runtimeConfigFrom,
  runtimeEnv,
} from "@crowsnest/shared";

export const collectorEnv = {
  ...commonEnv,
  ...runtimeEnv,
  CROWSNEST_COLLECT_INTERVAL_MS: envInteger({
    description: "How often every running container is sampled.",
    default: 10_000,
    min: 1000,
    max: 3_600_000,
  }),
  CROWSNEST_COLLECT_CONCURRENCY: envInteger({
    description:
      "How many containers (Docker) or nodes' summaries (Kubernetes) are sampled at the same time within one tick. Docker 20.10 holds each one-shot call until its next 1 s collection round, so a tick takes about (running containers / this) seconds.",
    default: 32,
    min: 1,
    max: 256,
  }),
  CROWSNEST_DOCKER_TIMEOUT_MS: envInteger({
    description: "How long one Docker API call (list, stats, inspect) may take before it is abandoned.",
    default: 5000,
    min: 100,
    max: 120_000,
  }),
  CROWSNEST_STATS_SOURCE: envEnum(["auto", "api"], {
    description:
      "Where container stats come from. `auto`: each container's cgroup files (and /proc/<pid>/net/dev) where readable, the Docker API for the others; `api`: the Docker API for every container.",
    default: "auto",
  }),
  CROWSNEST_CGROUP_ROOT: envString({
    description:
      "Where the host's cgroup filesystem is visible (read-only is enough); in a container, mount the host's /sys/fs/cgroup and point here.",
    default: "/sys/fs/cgroup",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_PROC_ROOT: envString({
    description:
      "Where the host's /proc is visible (host stats, the host's CPU clock, containers' network counters); in a container, mount the host's /proc and point here.",
    default: "/proc",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_CONTAINER_LIST_MAX_AGE_MS: envInteger({
    description:
      "With cgroup files as the source: the container list is fetched from dockerd only when the host's container cgroups change, and at the latest when it is this old (a `docker rename` shows within it); 0: every tick.",
    default: 60_000,
    min: 0,
    max: 3_600_000,
  }),
  CROWSNEST_KUBERNETES_TIMEOUT_MS: envInteger({
    description:
      "Kubernetes only: how long one API server call (a node's summary, the pod or node list, pod metrics) may take before it is abandoned.",
    default: 5000,
    min: 100,
    max: 120_000,
  }),
  CROWSNEST_KUBERNETES_SPEC_MAX_AGE_MS: envInteger({
    description:
      "Kubernetes only: how long a pod and node list (containers' limits, nodes' CPU count) is reused before it is fetched again. A pod missing from it is read on its own (one GET) before its first sample; more than 16 missing at once make the list fetched early, at most every 10 s.",
    default: 60_000,
    min: 1000,
    max: 3_600_000,
  }),
  CROWSNEST_KUBELET_HOST: envOptionalString({
    description:
      "Kubernetes, one node only: the address of that node's kubelet (the DaemonSet sets it from `status.hostIP`). The summary is then read from the kubelet itself (`https://<address>:<port>/stats/summary`, with the collector's own credentials), which needs only `nodes/stats`. Unset: through the API server's node proxy, which needs `nodes/proxy`, a far broader permission (every kubelet endpoint, exec included).",
    pattern: /^[A-Za-z0-9.:-]{1,253}$/,
    patternText: "an IP address or a host name",
  }),
  CROWSNEST_KUBELET_PORT: envInteger({
    description: "Kubernetes, with CROWSNEST_KUBELET_HOST: the kubelet's HTTPS port.",
    default: 10_250,
    min: 1,
    max: 65_535,
  }),
  CROWSNEST_KUBELET_CA_FILE: envOptionalString({
    description:
      "Kubernetes, with CROWSNEST_KUBELET_HOST: a PEM file of the CA(s) the kubelet's serving certificate must chain to. Unset: the API server's CA (the service account's `ca.crt`, or the kubeconfig's), which signs kubelet certificates where serving-certificate bootstrap is on.",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_KUBELET_INSECURE_SKIP_TLS_VERIFY: envBoolean({
    description:
      "Kubernetes, with CROWSNEST_KUBELET_HOST: do not check the kubelet's certificate (like metrics-server's `--kubelet-insecure-tls`), for kubelets with self-signed certificates. The service account's token then goes to whatever answers on that address: only where the node network is trusted.",
    default: false,
  }),
  CROWSNEST_PUBLISH_BUFFER_MAX: envInteger({
    description:
      "Most messages kept while the bus does not take them (about 1 KB each); beyond it the oldest are dropped and counted.",
    default: 100_000,
    min: 100,
    max: 10_000_000,
  }),
  CROWSNEST_PUBLISH_MAX_IN_FLIGHT: envInteger({
    description: "Most publishes awaiting their JetStream acknowledgement at once.",
    default: 256,
    min: 1,
    max: 10_000,
  }),
} as const;

export type CollectorConfig = RuntimeConfig & {
  common: CommonConfig;
  collectIntervalMs: number;
  collectConcurrency: number;
  dockerTimeoutMs: number;
  statsSource: "auto" | "api";
  cgroupRoot: string;
  procRoot: string;
  containerListMaxAgeMs: number;
  kubernetesTimeoutMs: number;
  kubernetesSpecMaxAgeMs: number;
  /** Read the node's summary from its kubelet directly; undefined: through the API server's node proxy. */
  kubelet: KubeletConfig | undefined;
  publishBufferMax: number;
  publishMaxInFlight: number;
};

export interface KubeletConfig {
  host: string;
  port: number;
  /** Undefined: the API server's CA. */
  caFile: string | undefined;
  insecureSkipTlsVerify: boolean;
}

/** Throws a ConfigError naming every bad variable. */
export function parseCollectorConfig(env: EnvSource): CollectorConfig {
  const values = parseEnv(collectorEnv, env);
  const kubeletHost = values.CROWSNEST_KUBELET_HOST;
  if (kubeletHost !== undefined && values.CROWSNEST_KUBERNETES_NODE_NAME === undefined) {
    throw new ConfigError(
      "invalid configuration: CROWSNEST_KUBELET_HOST reads one node's kubelet and needs CROWSNEST_KUBERNETES_NODE_NAME (the whole cluster is sampled through the API server's node proxy)",
    );
  }
  return {
    common: commonConfigFrom(values),
    ...runtimeConfigFrom(values),
    collectIntervalMs: values.CROWSNEST_COLLECT_INTERVAL_MS,
    collectConcurrency: values.CROWSNEST_COLLECT_CONCURRENCY,
    dockerTimeoutMs: values.CROWSNEST_DOCKER_TIMEOUT_MS,
    statsSource: values.CROWSNEST_STATS_SOURCE,
    cgroupRoot: values.CROWSNEST_CGROUP_ROOT,
    procRoot: values.CROWSNEST_PROC_ROOT,
    containerListMaxAgeMs: values.CROWSNEST_CONTAINER_LIST_MAX_AGE_MS,
    kubernetesTimeoutMs: values.CROWSNEST_KUBERNETES_TIMEOUT_MS,
    kubernetesSpecMaxAgeMs: values.CROWSNEST_KUBERNETES_SPEC_MAX_AGE_MS,
    kubelet:
      kubeletHost === undefined
        ? undefined
        : {
            host: kubeletHost,
            port: values.CROWSNEST_KUBELET_PORT,
            caFile: values.CROWSNEST_KUBELET_CA_FILE,
            insecureSkipTlsVerify: values.CROWSNEST_KUBELET_INSECURE_SKIP_TLS_VERIFY,
          },
    publishBufferMax: values.CROWSNEST_PUBLISH_BUFFER_MAX,
    publishMaxInFlight: values.CROWSNEST_PUBLISH_MAX_IN_FLIGHT,
  };
}

export function readConfig(): CollectorConfig {
  return parseCollectorConfig(process.env);
}
