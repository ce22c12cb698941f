// The public surface of @crowsnest/shared: the bus contract and the few helpers every service uses.
// The Postgres pool has its own entry point, @crowsnest/shared/postgres, so the collector and
// watcher, which never use Postgres, do not load pg and kysely.
export { codecs } from "./codec/codecs.ts";
export {
  createCodec,
  type DecodeFailureReason,
  type DecodeResult,
  describeIssues,
  type EncodeResult,
  type MessageCodec,
} from "./codec/message-codec.ts";
export { isStatsMessage } from "./codec/stats-quick-check.ts";
export {
  type CommonConfig,
  type ContainerdTarget,
  type CriTarget,
  commonConfigFrom,
  commonEnv,
  DEFAULT_EXCLUDED_CONTAINERD_NAMESPACES,
  type KubernetesTarget,
  LOG_LEVELS,
  postgresEnv,
  type RuntimeConfig,
  type RuntimeTarget,
  runtimeConfigFrom,
  runtimeEnv,
} from "./config/common-env.ts";
export {
  type EnvSource,
  type EnvSpec,
  type EnvValues,
  type EnvVar,
  envBoolean,
  envEnum,
  envInteger,
  envList,
  envOptionalString,
  envString,
  envUrl,
  envUrlList,
  parseEnv,
} from "./config/env-spec.ts";
export { ConfigError, CrowsnestError, NatsSetupError } from "./errors/crowsnest-error.ts";
export {
  type AdminRetryOptions,
  isTransientJetStreamError,
  JETSTREAM_ADMIN_TIMEOUT_MS,
  openJetStreamManager,
  withAdminRetry,
} from "./jetstream/jetstream-admin.ts";
export {
  type ConsumerDefinition,
  DEFAULT_STREAM_REPLICAS,
  DEFAULT_STREAM_RETENTION,
  ensureConsumers,
  ensureStreams,
  type StoreConsumerOptions,
  type StoreConsumerRole,
  type StreamDefinition,
  type StreamRetention,
  type StreamRole,
  StreamUpdateError,
  storeConsumerDefinitions,
  streamDefinitions,
  streamName,
  watcherStateBucketName,
} from "./jetstream/streams.ts";
export { createDeadletterSink, type DeadletterSink, zeroDeadletterCounts } from "./lifecycle/deadletter.ts";
export { type Heartbeat, type HeartbeatOptions, startHeartbeat } from "./lifecycle/heartbeat.ts";
export { retryUntilReady } from "./lifecycle/retry-until-ready.ts";
export { resolveRuntimeHostName } from "./lifecycle/runtime-host-name.ts";
export { runService, ServiceLifecycle } from "./lifecycle/service-lifecycle.ts";
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from "./log/logger.ts";
export {
  type AlertState,
  type AlertTransitionMessage,
  alertState,
  alertTransitionMessage,
} from "./messages/alert-transition-message.ts";
export {
  type ContainerRef,
  containerRef,
  runtime,
  SCHEMA_VERSION,
  timestamp,
  toTimestamp,
} from "./messages/common.ts";
export {
  type ContainerInfo,
  type ContainerState,
  containerInfo,
  containerState,
  type HealthStatus,
  healthStatus,
} from "./messages/container-info.ts";
export {
  type DeadletterMessage,
  type DeadletterReason,
  deadletterMessage,
} from "./messages/deadletter-message.ts";
export {
  type EventKind,
  type EventMessage,
  eventKind,
  eventMessage,
  KNOWN_EVENT_ACTIONS,
} from "./messages/event-message.ts";
export { type HeartbeatMessage, heartbeatMessage } from "./messages/heartbeat-message.ts";
export { type HostStatsMessage, hostStatsMessage } from "./messages/host-stats-message.ts";
export { type InventoryMessage, inventoryMessage } from "./messages/inventory-message.ts";
export {
  type InspectReply,
  type InspectRequest,
  inspectReply,
  inspectRequest,
  type LogsReply,
  type LogsRequest,
  logsReply,
  logsRequest,
  MAX_LOG_TAIL,
  type RpcError,
} from "./messages/rpc-messages.ts";
export { type StatsMessage, statsMessage } from "./messages/stats-message.ts";
export { type Bus, openBus } from "./nats/bus.ts";
export {
  authorizationBlock,
  kubernetesSecrets,
  type NatsPermissions,
  type NatsUser,
  type NatsUserRole,
  natsUsers,
  userEnvironment,
} from "./nats/nats-authorization.ts";
export {
  connectNats,
  type NatsConnectOptions,
  natsTlsOptions,
  type WatchedNatsConnection,
} from "./nats/nats-connection.ts";
export { cpuLimitCores } from "./runtime/cpu-limit.ts";
export { isRuntime, RUNTIMES, type Runtime } from "./runtime/runtimes.ts";
export { decodeSubjectToken, encodeSubjectToken } from "./subjects/subject-token.ts";
export {
  ANY,
  CONTRACT_VERSION,
  createSubjects,
  DEFAULT_SUBJECT_PREFIX,
  isValidSubjectPrefix,
  type RpcMethod,
  type ServiceName,
  type Subjects,
  type TokenFilter,
} from "./subjects/subjects.ts";
export { CROWSNEST_VERSION } from "./version.ts";
