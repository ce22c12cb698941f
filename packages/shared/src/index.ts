// The public surface of @crowsnest/shared: the bus contract and the few helpers every service uses.
// The Postgres pool has its own entry point, @crowsnest/shared/postgres, so the collector and
// watcher, which never use Postgres, do not load pg and kysely; they import
// @crowsnest/shared/agent, this surface without the zod schemas (agent.ts).
export * from "./agent.ts";
export { codecs } from "./codec/codecs.ts";
export { createCodec, describeIssues } from "./codec/message-codec.ts";
export { createDeadletterSink, type DeadletterSink, zeroDeadletterCounts } from "./lifecycle/deadletter.ts";
// The api and the store log through pino (this explicit export shadows the agents' light logger).
export { createLogger } from "./log/logger.ts";
export {
  type AlertState,
  type AlertTransitionMessage,
  alertState,
  alertTransitionMessage,
} from "./messages/alert-transition-message.ts";
export { containerRef, runtime, timestamp } from "./messages/common.ts";
export { containerInfo, containerState, healthStatus } from "./messages/container-info.ts";
export {
  type DeadletterMessage,
  type DeadletterReason,
  deadletterMessage,
} from "./messages/deadletter-message.ts";
export { eventKind, eventMessage } from "./messages/event-message.ts";
export { heartbeatMessage } from "./messages/heartbeat-message.ts";
export { hostStatsMessage } from "./messages/host-stats-message.ts";
export { inventoryMessage } from "./messages/inventory-message.ts";
export {
  inspectReply,
  inspectRequest,
  logsReply,
  logsRequest,
  MAX_LOG_TAIL,
} from "./messages/rpc-messages.ts";
export { statsMessage } from "./messages/stats-message.ts";
export {
  authorizationBlock,
  kubernetesSecrets,
  type NatsPermissions,
  type NatsUser,
  type NatsUserRole,
  natsUsers,
  userEnvironment,
} from "./nats/nats-authorization.ts";
