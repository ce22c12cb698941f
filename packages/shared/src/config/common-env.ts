// Variables every service reads the same way, so one compose anchor configures them all.

import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { ConfigError } from "../errors/crowsnest-error.ts";
import {
  DEFAULT_STREAM_REPLICAS,
  DEFAULT_STREAM_RETENTION,
  type StreamRetention,
} from "../jetstream/streams.ts";
import { RUNTIMES } from "../runtime/runtimes.ts";
import { DEFAULT_SUBJECT_PREFIX } from "../subjects/subjects.ts";
import {
  type EnvValues,
  envEnum,
  envInteger,
  envList,
  envOptionalString,
  envString,
  envUrl,
  envUrlList,
} from "./env-spec.ts";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

const HOUR_MS = 3600_000;

export const commonEnv = {
  CROWSNEST_NATS_URL: envUrlList({
    description: "NATS server URLs, comma-separated (several for a cluster).",
    default: ["nats://127.0.0.1:4222"],
    protocols: ["nats", "tls", "ws", "wss"],
  }),
  CROWSNEST_NATS_TOKEN: envOptionalString({
    description: "Token for NATS authentication, when the server requires one.",
    secret: true,
  }),
  CROWSNEST_NATS_USER: envOptionalString({
    description:
      "NATS user name, with CROWSNEST_NATS_PASSWORD, when the server has users (`pnpm nats-auth` writes one per host, see docs/nats-security.md). Not together with CROWSNEST_NATS_TOKEN.",
  }),
  CROWSNEST_NATS_PASSWORD: envOptionalString({
    description: "Password of CROWSNEST_NATS_USER.",
    secret: true,
  }),
  CROWSNEST_NATS_INBOX_PREFIX: envString({
    description:
      "Subject prefix of this service's reply inboxes. With per-host users each host has its own (`_INBOX_<user>`, as `pnpm nats-auth` writes it), the only inbox its user may subscribe to.",
    default: "_INBOX",
    pattern: /^[A-Za-z0-9_~=-]+$/,
    patternText: 'one subject token of letters, digits, "_", "-", "~" and "="',
  }),
  CROWSNEST_NATS_CREDENTIALS_FILE: envOptionalString({
    description:
      "File with this service's NATS user as `pnpm nats-auth` writes it (`CROWSNEST_NATS_USER=`, `CROWSNEST_NATS_PASSWORD=` and `CROWSNEST_NATS_INBOX_PREFIX=` lines), read at start: the compose file and the Kubernetes manifests mount it from a secret. Not together with CROWSNEST_NATS_USER, CROWSNEST_NATS_PASSWORD or CROWSNEST_NATS_TOKEN.",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_NATS_TLS_CA_FILE: envOptionalString({
    description:
      "PEM file of the CA that signed the NATS servers' certificates: the connection then requires TLS and verifies the server against it. Unset: TLS only for `tls://` URLs, verified against the system's CAs.",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_NATS_TLS_CERT_FILE: envOptionalString({
    description:
      "PEM client certificate presented to NATS servers that require one (`verify: true`), with CROWSNEST_NATS_TLS_KEY_FILE.",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_NATS_TLS_KEY_FILE: envOptionalString({
    description: "PEM private key of CROWSNEST_NATS_TLS_CERT_FILE.",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_SUBJECT_PREFIX: envString({
    description: "First token(s) of every subject and the base of the JetStream stream names.",
    default: DEFAULT_SUBJECT_PREFIX,
    pattern: /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
    patternText: 'dot-separated tokens of letters, digits, "-" and "_"',
  }),
  CROWSNEST_LOG_LEVEL: envEnum(LOG_LEVELS, {
    description: "Least severe level that is logged.",
    default: "info",
  }),
  CROWSNEST_SHUTDOWN_TIMEOUT_MS: envInteger({
    description: "On SIGTERM, how long in-flight work may take before the process exits anyway.",
    default: 10_000,
    min: 100,
    max: 600_000,
  }),
  CROWSNEST_HEARTBEAT_INTERVAL_MS: envInteger({
    description:
      "How often the service publishes its heartbeat on the agents subject: at least this often (the collector, when its interval is not longer, beats on its ticks, so possibly more often: every 10 s with the default 10 s interval).",
    default: 15_000,
    min: 1000,
    max: 3_600_000,
  }),
  CROWSNEST_LIVENESS_FILE: envOptionalString({
    description:
      "File whose modification time the service refreshes with every heartbeat, for container healthchecks; unset: none.",
  }),
  CROWSNEST_STREAM_TELEMETRY_MAX_AGE_MS: envInteger({
    description: "How long the bus keeps stats for a store that is down (JetStream max age).",
    default: DEFAULT_STREAM_RETENTION.telemetryMaxAgeMs,
    min: 60_000,
    max: 90 * 24 * HOUR_MS,
  }),
  CROWSNEST_STREAM_EVENTS_MAX_AGE_MS: envInteger({
    description: "How long the bus keeps events, inventories, alerts and dead letters (JetStream max age).",
    default: DEFAULT_STREAM_RETENTION.eventsMaxAgeMs,
    min: 60_000,
    max: 365 * 24 * HOUR_MS,
  }),
  CROWSNEST_STREAM_REPLICAS: envInteger({
    description:
      "Copies of every JetStream stream and bucket Crowsnest creates: 1 on a single NATS server, 3 in a cluster of three (survives losing one node). Changing it updates the existing streams on the next start.",
    default: DEFAULT_STREAM_REPLICAS,
    min: 1,
    max: 5,
  }),
} as const;

/** A NATS user and its password (per-host credentials). */
export interface NatsUserCredentials {
  user: string;
  password: string;
}

/** TLS toward NATS: the CA that verifies the servers, and a client certificate when they ask for one. */
export interface NatsTlsFiles {
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
}

export interface CommonConfig {
  natsServers: readonly string[];
  /** Undefined: plain connections, or TLS with the system's CAs for `tls://` URLs. */
  natsTls: NatsTlsFiles | undefined;
  natsToken: string | undefined;
  natsUser: NatsUserCredentials | undefined;
  natsInboxPrefix: string;
  subjectPrefix: string;
  logLevel: (typeof LOG_LEVELS)[number];
  shutdownTimeoutMs: number;
  heartbeatIntervalMs: number;
  livenessFile: string | undefined;
  streamRetention: StreamRetention;
  streamReplicas: number;
}

function natsUserFrom(values: EnvValues<typeof commonEnv>): NatsUserCredentials | undefined {
  const user = values.CROWSNEST_NATS_USER;
  const password = values.CROWSNEST_NATS_PASSWORD;
  if (user === undefined && password === undefined) return undefined;
  if (user === undefined || password === undefined) {
    throw new ConfigError(
      "invalid configuration: CROWSNEST_NATS_USER and CROWSNEST_NATS_PASSWORD go together",
    );
  }
  if (values.CROWSNEST_NATS_TOKEN !== undefined) {
    throw new ConfigError(
      "invalid configuration: set either CROWSNEST_NATS_TOKEN or CROWSNEST_NATS_USER and CROWSNEST_NATS_PASSWORD, not both",
    );
  }
  return { user, password };
}

/** The variables a NATS credentials file may set. */
const CREDENTIALS_FILE_KEYS = [
  "CROWSNEST_NATS_USER",
  "CROWSNEST_NATS_PASSWORD",
  "CROWSNEST_NATS_INBOX_PREFIX",
] as const;

/** The user, password and inbox prefix, from CROWSNEST_NATS_CREDENTIALS_FILE when it is set. */
function natsCredentialsFrom(values: EnvValues<typeof commonEnv>): {
  user: NatsUserCredentials | undefined;
  inboxPrefix: string;
} {
  const path = values.CROWSNEST_NATS_CREDENTIALS_FILE;
  if (path === undefined)
    return { user: natsUserFrom(values), inboxPrefix: values.CROWSNEST_NATS_INBOX_PREFIX };
  const invalid = (problem: string) =>
    new ConfigError(`invalid configuration: CROWSNEST_NATS_CREDENTIALS_FILE (${path}) ${problem}`);
  if (
    values.CROWSNEST_NATS_USER !== undefined ||
    values.CROWSNEST_NATS_PASSWORD !== undefined ||
    values.CROWSNEST_NATS_TOKEN !== undefined
  ) {
    throw invalid(
      "is not used together with CROWSNEST_NATS_USER, CROWSNEST_NATS_PASSWORD or CROWSNEST_NATS_TOKEN",
    );
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw invalid(`cannot be read: ${(error as Error).message}`);
  }
  const found = new Map<string, string>();
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trimEnd());
    const key = match?.[1];
    if (match === null || key === undefined || !(CREDENTIALS_FILE_KEYS as readonly string[]).includes(key)) {
      // The line itself may hold a password: name only where it is.
      throw invalid(`line ${index + 1} is not one of ${CREDENTIALS_FILE_KEYS.join("=, ")}=`);
    }
    found.set(key, match[2] ?? "");
  }
  const user = found.get("CROWSNEST_NATS_USER");
  const password = found.get("CROWSNEST_NATS_PASSWORD");
  if (!user || !password) throw invalid("must set CROWSNEST_NATS_USER and CROWSNEST_NATS_PASSWORD");
  const inboxPrefix = found.get("CROWSNEST_NATS_INBOX_PREFIX");
  if (inboxPrefix === undefined)
    return { user: { user, password }, inboxPrefix: values.CROWSNEST_NATS_INBOX_PREFIX };
  const parsed = commonEnv.CROWSNEST_NATS_INBOX_PREFIX.parse(inboxPrefix);
  if (!parsed.ok)
    throw invalid(`sets CROWSNEST_NATS_INBOX_PREFIX to "${inboxPrefix}", not ${parsed.expected}`);
  return { user: { user, password }, inboxPrefix: parsed.value };
}

function natsTlsFrom(values: EnvValues<typeof commonEnv>): NatsTlsFiles | undefined {
  const caFile = values.CROWSNEST_NATS_TLS_CA_FILE;
  const certFile = values.CROWSNEST_NATS_TLS_CERT_FILE;
  const keyFile = values.CROWSNEST_NATS_TLS_KEY_FILE;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(
      "invalid configuration: CROWSNEST_NATS_TLS_CERT_FILE and CROWSNEST_NATS_TLS_KEY_FILE go together",
    );
  }
  if (caFile === undefined && certFile === undefined) return undefined;
  return { caFile, certFile, keyFile };
}

export function commonConfigFrom(values: EnvValues<typeof commonEnv>): CommonConfig {
  const credentials = natsCredentialsFrom(values);
  return {
    natsServers: values.CROWSNEST_NATS_URL,
    natsTls: natsTlsFrom(values),
    natsToken: values.CROWSNEST_NATS_TOKEN,
    natsUser: credentials.user,
    natsInboxPrefix: credentials.inboxPrefix,
    subjectPrefix: values.CROWSNEST_SUBJECT_PREFIX,
    logLevel: values.CROWSNEST_LOG_LEVEL,
    shutdownTimeoutMs: values.CROWSNEST_SHUTDOWN_TIMEOUT_MS,
    heartbeatIntervalMs: values.CROWSNEST_HEARTBEAT_INTERVAL_MS,
    livenessFile: values.CROWSNEST_LIVENESS_FILE,
    streamRetention: {
      telemetryMaxAgeMs: values.CROWSNEST_STREAM_TELEMETRY_MAX_AGE_MS,
      eventsMaxAgeMs: values.CROWSNEST_STREAM_EVENTS_MAX_AGE_MS,
      duplicateWindowMs: DEFAULT_STREAM_RETENTION.duplicateWindowMs,
    },
    streamReplicas: values.CROWSNEST_STREAM_REPLICAS,
  };
}

/**
 * CROWSNEST_HOST_NAME of the services that read a container runtime (collector, watcher).
 * Unset, they use the host name the runtime reports, which stays right when the service itself
 * runs in a container (whose own host name is its id), and is the same for both services.
 */
export const runtimeHostNameVar = envOptionalString({
  description:
    "Name of this host in subjects and payloads. Unset: the host name the container runtime reports (dockerd's `Name`), which stays right when the service runs in a container.",
  pattern: /^\S{1,253}$/,
  patternText: "1 to 253 characters without whitespace",
});

/** containerd's rule for identifiers such as namespace names (its `identifiers` package), at most 76 characters. */
const CONTAINERD_NAMESPACE_PATTERN = /^(?=.{1,76}$)[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/**
 * The variables of the services that read a container runtime through its socket (collector,
 * watcher): which host they are, and where dockerd listens.
 */
export const runtimeEnv = {
  CROWSNEST_HOST_NAME: runtimeHostNameVar,
  CROWSNEST_RUNTIME: envEnum(RUNTIMES, {
    description:
      "Which container runtime this host runs: `docker` (dockerd's socket), `kubernetes` (the API server) `containerd` (containerd's own API, without Docker; see docs/containerd.md) or `cri` (a Kubernetes node's CRI runtime, containerd or CRI-O, without the API server; see docs/cri.md).",
    default: "docker",
  }),
  CROWSNEST_DOCKER_SOCKET: envString({
    description:
      "Path of dockerd's Unix socket, or of a read-only Docker API proxy in front of it (compose uses one; a read-only mount of dockerd's own socket does not make its API read-only). Docker only.",
    default: "/var/run/docker.sock",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_CONTAINERD_SOCKET: envString({
    description: "containerd only: path of containerd's gRPC socket.",
    default: "/run/containerd/containerd.sock",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_CONTAINERD_NAMESPACES: envList({
    description:
      "containerd only: comma-separated containerd namespaces to report. Unset: every namespace except `moby` (Docker's own containers, which a `docker` host reports) and `k8s.io` (Kubernetes pods, which the `kubernetes` runtime reports with their pod context); name them here to report them anyway.",
    itemPattern: CONTAINERD_NAMESPACE_PATTERN,
    itemText:
      "a containerd namespace name (letters and digits, separated by single `.`, `_` or `-`, at most 76 characters)",
  }),
  CROWSNEST_CONTAINERD_TIMEOUT_MS: envInteger({
    description:
      "containerd only: how long one containerd call (a list, `Tasks.Metrics`, getting a container, the watcher's subscription probe) may take before it is abandoned.",
    default: 5000,
    min: 100,
    max: 120_000,
  }),
  CROWSNEST_CRI_SOCKET: envOptionalString({
    description:
      "cri only: path of the CRI runtime's gRPC socket. Unset: the first of `/run/containerd/containerd.sock` and `/run/crio/crio.sock` that answers the CRI's Version call (k3s: set `/run/k3s/containerd/containerd.sock`).",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_CRI_TIMEOUT_MS: envInteger({
    description:
      "cri only: how long one CRI call (a list, a container's status, the stats) may take before it is abandoned.",
    default: 5000,
    min: 100,
    max: 120_000,
  }),
  CROWSNEST_KUBECONFIG: envOptionalString({
    description:
      "Kubernetes only: kubeconfig file to reach the API server with. Unset: the pod's service account when running in a cluster (in-cluster detection), else `$KUBECONFIG` or `~/.kube/config`.",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  CROWSNEST_KUBERNETES_NODE_NAME: envOptionalString({
    description:
      "Kubernetes only: watch and sample only the pods scheduled to this node (a DaemonSet sets it from `spec.nodeName`); it is also the host name unless CROWSNEST_HOST_NAME is set. Unset: every pod of the cluster.",
    pattern: /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/,
    patternText: "a Kubernetes node name (lower-case DNS subdomain)",
  }),
  KUBERNETES_SERVICE_HOST: envOptionalString({
    description:
      "Set by Kubernetes in every pod (not by you): the API server's address; with KUBERNETES_SERVICE_PORT it tells a Kubernetes-mode service that it runs in a cluster and uses its service account.",
  }),
  KUBERNETES_SERVICE_PORT: envOptionalString({
    description: "Set by Kubernetes in every pod (not by you): the API server's port.",
    pattern: /^\d{1,5}$/,
    patternText: "a port number",
  }),
  KUBECONFIG: envOptionalString({
    description:
      "Kubernetes only, the standard variable: the kubeconfig to use when CROWSNEST_KUBECONFIG is unset and the service is not in a cluster (first path of a colon-separated list).",
  }),
} as const;

/** The variables of the services that use Postgres (store, api); `service` names them in the texts. */
export function postgresEnv(service: "store" | "api") {
  return {
    CROWSNEST_HOST_NAME: envString({
      description: `Name this ${service} instance reports in its heartbeat.`,
      default: hostname(),
      shownDefault: "the machine's host name",
    }),
    CROWSNEST_DATABASE_URL: envUrl({
      description:
        "Postgres connection URL. TLS as libpq has it, in the URL: `?sslmode=verify-full&sslrootcert=/path/ca.pem` verifies the server against that CA (`sslcert`/`sslkey` add a client certificate); see docs/nats-security.md.",
      default: "postgres://crowsnest@127.0.0.1:5432/crowsnest",
      protocols: ["postgres", "postgresql"],
    }),
    CROWSNEST_DATABASE_POOL_SIZE: envInteger({
      description: `Most connections the ${service} opens to Postgres.`,
      default: 10,
      min: 2,
      max: 200,
    }),
  } as const;
}

/** How a Kubernetes-mode service reaches the API server, and which node it watches. */
export interface KubernetesTarget {
  /** Undefined: in-cluster service account, else the default kubeconfig. */
  kubeconfigPath: string | undefined;
  /** Undefined: the whole cluster. */
  nodeName: string | undefined;
  /** KUBERNETES_SERVICE_HOST/PORT: both set inside a pod, which then uses its service account. */
  serviceHost: string | undefined;
  servicePort: string | undefined;
  /** The standard KUBECONFIG variable. */
  kubeconfigEnv: string | undefined;
}

/** How a containerd-mode service reaches containerd, and which of its namespaces it reports. */
export interface ContainerdTarget {
  socketPath: string;
  /** Deadline of each containerd call. */
  timeoutMs: number;
  /** Undefined: every namespace except the ones other runtimes report (DEFAULT_EXCLUDED_CONTAINERD_NAMESPACES). */
  namespaces: readonly string[] | undefined;
}

/** How a cri-mode service reaches the node's CRI runtime. */
export interface CriTarget {
  /** Undefined: the first default socket that answers (see @crowsnest/shared/cri). */
  socketPath: string | undefined;
  /** Deadline of each CRI call. */
  timeoutMs: number;
}

/**
 * The namespaces a containerd host leaves out unless CROWSNEST_CONTAINERD_NAMESPACES names them:
 * Docker's (its containers are reported by a `docker` host, with Docker's names and ids) and the
 * CRI's (pods, reported by the `kubernetes` runtime with their pod context).
 */
export const DEFAULT_EXCLUDED_CONTAINERD_NAMESPACES: readonly string[] = ["moby", "k8s.io"];

/**
 * Which runtime a collector or watcher reads, and how it reaches it: one variant per runtime,
 * so a runtime's settings exist only when it is the one selected.
 */
export type RuntimeTarget =
  | { runtime: "docker"; docker: { socketPath: string } }
  | { runtime: "kubernetes"; kubernetes: KubernetesTarget }
  | { runtime: "containerd"; containerd: ContainerdTarget }
  | { runtime: "cri"; cri: CriTarget };

export type RuntimeConfig = RuntimeTarget & {
  /** Undefined: use the host name the runtime reports (or the Kubernetes node name). */
  hostName: string | undefined;
};

export function runtimeConfigFrom(values: EnvValues<typeof runtimeEnv>): RuntimeConfig {
  const hostName = values.CROWSNEST_HOST_NAME ?? values.CROWSNEST_KUBERNETES_NODE_NAME;
  switch (values.CROWSNEST_RUNTIME) {
    case "docker":
      return { runtime: "docker", hostName, docker: { socketPath: values.CROWSNEST_DOCKER_SOCKET } };
    case "kubernetes":
      return {
        runtime: "kubernetes",
        hostName,
        kubernetes: {
          kubeconfigPath: values.CROWSNEST_KUBECONFIG,
          nodeName: values.CROWSNEST_KUBERNETES_NODE_NAME,
          serviceHost: values.KUBERNETES_SERVICE_HOST,
          servicePort: values.KUBERNETES_SERVICE_PORT,
          kubeconfigEnv: values.KUBECONFIG,
        },
      };
    case "containerd":
      return {
        runtime: "containerd",
        hostName,
        containerd: {
          socketPath: values.CROWSNEST_CONTAINERD_SOCKET,
          timeoutMs: values.CROWSNEST_CONTAINERD_TIMEOUT_MS,
          namespaces:
            values.CROWSNEST_CONTAINERD_NAMESPACES.length > 0
              ? values.CROWSNEST_CONTAINERD_NAMESPACES
              : undefined,
        },
      };
    case "cri":
      return {
        runtime: "cri",
        hostName,
        cri: { socketPath: values.CROWSNEST_CRI_SOCKET, timeoutMs: values.CROWSNEST_CRI_TIMEOUT_MS },
      };
  }
}
