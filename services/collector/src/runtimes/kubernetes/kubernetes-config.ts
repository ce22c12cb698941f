// The collector's Kubernetes-only settings: their variables (documented with every other
// collector variable in config.ts's collectorEnv) and the Kubernetes variant of the collector's config.
import {
  ConfigError,
  type EnvValues,
  envBoolean,
  envInteger,
  envOptionalString,
  type KubernetesTarget,
} from "@crowsnest/shared/agent";

export const kubernetesCollectorEnv = {
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
} as const;

export interface KubeletConfig {
  host: string;
  port: number;
  /** Undefined: the API server's CA. */
  caFile: string | undefined;
  insecureSkipTlsVerify: boolean;
}

export interface KubernetesCollectorSettings extends KubernetesTarget {
  /** Bound on each API server (or kubelet) call. */
  timeoutMs: number;
  /** How long pod and node lists (limits, capacity) are reused. */
  specMaxAgeMs: number;
  /** Read the node's summary from its kubelet directly; undefined: through the API server's node proxy. */
  kubelet: KubeletConfig | undefined;
}

/** The collector's config when it reads a Kubernetes cluster. */
export interface KubernetesCollectorTarget {
  runtime: "kubernetes";
  kubernetes: KubernetesCollectorSettings;
}

/**
 * Throws a ConfigError for a kubelet address without a node name, whichever runtime is selected:
 * the variable would otherwise be silently ignored.
 */
export function checkKubeletSettings(values: {
  CROWSNEST_KUBELET_HOST: string | undefined;
  CROWSNEST_KUBERNETES_NODE_NAME: string | undefined;
}): void {
  if (values.CROWSNEST_KUBELET_HOST !== undefined && values.CROWSNEST_KUBERNETES_NODE_NAME === undefined) {
    throw new ConfigError(
      "invalid configuration: CROWSNEST_KUBELET_HOST reads one node's kubelet and needs CROWSNEST_KUBERNETES_NODE_NAME (the whole cluster is sampled through the API server's node proxy)",
    );
  }
}

export function kubernetesCollectorTarget(
  values: EnvValues<typeof kubernetesCollectorEnv>,
  target: { kubernetes: KubernetesTarget },
): KubernetesCollectorTarget {
  const kubeletHost = values.CROWSNEST_KUBELET_HOST;
  return {
    runtime: "kubernetes",
    kubernetes: {
      ...target.kubernetes,
      timeoutMs: values.CROWSNEST_KUBERNETES_TIMEOUT_MS,
      specMaxAgeMs: values.CROWSNEST_KUBERNETES_SPEC_MAX_AGE_MS,
      kubelet:
        kubeletHost === undefined
          ? undefined
          : {
              host: kubeletHost,
              port: values.CROWSNEST_KUBELET_PORT,
              caFile: values.CROWSNEST_KUBELET_CA_FILE,
              insecureSkipTlsVerify: values.CROWSNEST_KUBELET_INSECURE_SKIP_TLS_VERIFY,
            },
    },
  };
}
