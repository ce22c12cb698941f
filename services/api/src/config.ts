// The api's configuration: the only module that reads process.env.
import {
  type CommonConfig,
  ConfigError,
  commonConfigFrom,
  commonEnv,
  type EnvSource,
  envBoolean,
  envInteger,
  envList,
  envString,
  parseEnv,
  postgresEnv,
} from "@crowsnest/shared";

const TOKEN_PATTERN = /^[A-Za-z0-9._~+/=-]{16,256}$/;

export const apiEnv = {
  ...commonEnv,
  ...postgresEnv("api"),
  CROWSNEST_API_READ_TOKENS: envList({
    description: "Bearer tokens that may read (GET), comma-separated; 16 to 256 URL-safe characters each.",
    itemPattern: TOKEN_PATTERN,
    itemText: "16 to 256 letters, digits or -._~+/=",
    secret: true,
  }),
  CROWSNEST_API_ADMIN_TOKENS: envList({
    description: "Bearer tokens that may read and write (alert configuration), comma-separated.",
    itemPattern: TOKEN_PATTERN,
    itemText: "16 to 256 letters, digits or -._~+/=",
    secret: true,
  }),
  CROWSNEST_API_AUTH_DISABLED: envBoolean({
    description:
      "true serves every route without a token (a warning is logged at start). Only for a loopback-only or otherwise protected API.",
    default: false,
  }),
  CROWSNEST_API_SESSION_TTL_HOURS: envInteger({
    description:
      "How long a dashboard sign-in lasts: the browser's session cookie expires this many hours after signing in.",
    default: 12,
    min: 1,
    max: 24 * 90,
  }),
  CROWSNEST_API_RPC_TIMEOUT_MS: envInteger({
    description: "How long the api waits for a host's watcher to answer a logs request before a 503.",
    default: 5000,
    min: 100,
    max: 120_000,
  }),
  CROWSNEST_API_LOGS_FOLLOW_SILENCE_MS: envInteger({
    description:
      "A followed log stream whose watcher sends nothing (not even its 5 s probe) for this long ends with an error event.",
    default: 20_000,
    min: 1000,
    max: 600_000,
  }),
  CROWSNEST_API_MAX_STREAMS: envInteger({
    description: "Most live streams (/api/v1/stream) one api instance serves at once; more get a 503.",
    default: 200,
    min: 1,
    max: 100_000,
  }),
  CROWSNEST_API_STREAM_HEARTBEAT_MS: envInteger({
    description: "Interval of the keep-alive comment on idle live streams, so proxies keep them open.",
    default: 15_000,
    min: 1000,
    max: 300_000,
  }),
  CROWSNEST_API_STREAM_MAX_BACKLOG: envInteger({
    description:
      "Events a live-stream client may fall behind by before it is cut off with a final `cutoff` event.",
    default: 10_000,
    min: 10,
    max: 1_000_000,
  }),
  CROWSNEST_API_STREAM_MAX_BACKLOG_BYTES: envInteger({
    description:
      "Bytes of events a live-stream client may fall behind by, counting what its socket has not sent, before it is cut off: the most memory one stream holds for its client.",
    default: 4 * 1024 * 1024,
    min: 64 * 1024,
    max: 256 * 1024 * 1024,
  }),
  CROWSNEST_API_STREAM_STALL_TIMEOUT_MS: envInteger({
    description:
      "A live-stream client that takes nothing for this long while events wait is cut off; it then gets as long again to take the `cutoff` event before its connection is closed.",
    default: 15_000,
    min: 1000,
    max: 600_000,
  }),
  CROWSNEST_API_METRICS_MAX_CONTAINERS: envInteger({
    description: "Most containers whose latest sample /metrics exports per scrape (bounds the series count).",
    default: 5000,
    min: 1,
    max: 1_000_000,
  }),
  CROWSNEST_API_CORS_ORIGINS: envList({
    description:
      "Browser origins allowed to call the api cross-origin (CORS), comma-separated, e.g. https://grafana.example.com; unset: none.",
    itemPattern: /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/,
    itemText: "an origin like https://host or http://host:port",
  }),
  CROWSNEST_API_LISTEN_HOST: envString({
    description: "Address the HTTP server listens on.",
    default: "0.0.0.0",
  }),
  CROWSNEST_API_PORT: envInteger({
    description: "Port the HTTP server listens on.",
    default: 8080,
    min: 0,
    max: 65_535,
  }),
} as const;

export interface ApiConfig {
  common: CommonConfig;
  hostName: string;
  databaseUrl: string;
  databasePoolSize: number;
  listenHost: string;
  port: number;
  rpcTimeoutMs: number;
  corsOrigins: readonly string[];
  logsFollowSilenceMs: number;
  metricsMaxContainers: number;
  live: {
    maxStreams: number;
    heartbeatMs: number;
    maxBacklog: number;
    maxBacklogBytes: number;
    stallTimeoutMs: number;
  };
  /** Undefined when auth is explicitly disabled. */
  auth: { readTokens: readonly string[]; adminTokens: readonly string[]; sessionTtlMs: number } | undefined;
}

export function parseApiConfig(env: EnvSource): ApiConfig {
  const values = parseEnv(apiEnv, env);
  const readTokens = values.CROWSNEST_API_READ_TOKENS;
  const adminTokens = values.CROWSNEST_API_ADMIN_TOKENS;
  if (!values.CROWSNEST_API_AUTH_DISABLED && readTokens.length + adminTokens.length === 0) {
    throw new ConfigError(
      "invalid configuration: set CROWSNEST_API_ADMIN_TOKENS and/or CROWSNEST_API_READ_TOKENS, or CROWSNEST_API_AUTH_DISABLED=true to serve without tokens",
    );
  }
  return {
    common: commonConfigFrom(values),
    hostName: values.CROWSNEST_HOST_NAME,
    databaseUrl: values.CROWSNEST_DATABASE_URL,
    databasePoolSize: values.CROWSNEST_DATABASE_POOL_SIZE,
    listenHost: values.CROWSNEST_API_LISTEN_HOST,
    port: values.CROWSNEST_API_PORT,
    rpcTimeoutMs: values.CROWSNEST_API_RPC_TIMEOUT_MS,
    corsOrigins: values.CROWSNEST_API_CORS_ORIGINS,
    logsFollowSilenceMs: values.CROWSNEST_API_LOGS_FOLLOW_SILENCE_MS,
    metricsMaxContainers: values.CROWSNEST_API_METRICS_MAX_CONTAINERS,
    live: {
      maxStreams: values.CROWSNEST_API_MAX_STREAMS,
      heartbeatMs: values.CROWSNEST_API_STREAM_HEARTBEAT_MS,
      maxBacklog: values.CROWSNEST_API_STREAM_MAX_BACKLOG,
      maxBacklogBytes: values.CROWSNEST_API_STREAM_MAX_BACKLOG_BYTES,
      stallTimeoutMs: values.CROWSNEST_API_STREAM_STALL_TIMEOUT_MS,
    },
    auth: values.CROWSNEST_API_AUTH_DISABLED
      ? undefined
      : { readTokens, adminTokens, sessionTtlMs: values.CROWSNEST_API_SESSION_TTL_HOURS * 60 * 60 * 1000 },
  };
}

export function readConfig(): ApiConfig {
  return parseApiConfig(process.env);
}

/**
 * crowsnest-bus (bus-watch/main.ts) finds and joins the bus as the services do: the same
 * variables (URL, prefix, token or user, CROWSNEST_NATS_CREDENTIALS_FILE, TLS).
 */
export type BusWatchConfig = Pick<
  CommonConfig,
  "natsServers" | "natsToken" | "natsUser" | "natsInboxPrefix" | "natsTls" | "subjectPrefix"
>;

export function readBusWatchConfig(): BusWatchConfig {
  return commonConfigFrom(parseEnv(commonEnv, process.env));
}
