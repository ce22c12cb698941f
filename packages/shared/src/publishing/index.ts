// The agents' way onto the bus: one ordered, bounded publish queue, the cheap JetStream
// publisher behind it, and the one rule telling a failure worth retrying from a permanent one.
export {
  type AckConnection,
  type AckDeadlineClock,
  AckTimeoutError,
  DisconnectedError,
  type EncodedMsgId,
  InvalidAckError,
  InvalidMsgIdError,
  JetStreamAckPublisher,
  type JetStreamAckPublisherOptions,
  MsgIdStart,
  NoStreamError,
  type PubAck,
  PublisherClosedError,
  parseAck,
  StreamRefusedError,
} from "./jetstream-ack-publisher.ts";
export { type ClassifiedPublishError, isRetryablePublishError } from "./publish-failure.ts";
export {
  type JetStreamPublisher,
  type OutgoingMessage,
  PublishQueue,
  type PublishQueueCounts,
  type PublishQueueOptions,
} from "./publish-queue.ts";
