// The surface of @crowsnest/shared for the two agents (collector, watcher), as
// @crowsnest/shared/agent: everything they use, and nothing that loads zod. They encode what they
// publish with the hand-written contract checks (codec/checked-encoders.ts) instead of the zod
// schemas, which cost each agent MBs of memory for as long as it runs (docs/benchmarks.md); the
// watcher loads the schemas on demand, for the requests it is sent (@crowsnest/shared/codec).
// The package's main entry exports all of this too, with the schemas and zod codecs.
export { type CheckedEncoder, checkedEncoders } from "./codec/checked-encoders.ts";
export type { DecodeFailureReason, DecodeResult, EncodeResult, MessageCodec } from "./codec/message-codec.ts";
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
export {
  type Heartbeat,
  type HeartbeatOptions,
  startHeartbeat,
  startTickedHeartbeat,
  type TickedHeartbeat,
  type TickedHeartbeatOptions,
} from "./lifecycle/heartbeat.ts";
export { retryUntilReady } from "./lifecycle/retry-until-ready.ts";
export { resolveRuntimeHostName } from "./lifecycle/runtime-host-name.ts";
export { runService, ServiceLifecycle } from "./lifecycle/service-lifecycle.ts";
// The agents log through the light logger: the same lines as pino's, without loading pino.
export { createJsonLineLogger as createLogger } from "./log/json-line-logger.ts";
export type { LogFn, Logger, LoggerOptions, LogLevel } from "./log/logger.ts";
export type { ContainerRef } from "./messages/common.ts";
export type { ContainerInfo } from "./messages/container-info.ts";
export {
  type ContainerState,
  type EventKind,
  type HealthStatus,
  isHealthStatus,
  KNOWN_EVENT_ACTIONS,
  SCHEMA_VERSION,
  toTimestamp,
} from "./messages/contract-values.ts";
export type { EventMessage } from "./messages/event-message.ts";
export type { HeartbeatMessage } from "./messages/heartbeat-message.ts";
export type { HostStatsMessage } from "./messages/host-stats-message.ts";
export type { InventoryMessage } from "./messages/inventory-message.ts";
export type {
  InspectReply,
  InspectRequest,
  LogsReply,
  LogsRequest,
  RpcError,
} from "./messages/rpc-messages.ts";
export type { StatsMessage } from "./messages/stats-message.ts";
export { type Bus, openBus } from "./nats/bus.ts";
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
