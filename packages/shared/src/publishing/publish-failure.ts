// Whether a failed JetStream publish is worth sending again. A publish queue keeps a message that
// may succeed later (no acknowledgement in time, no stream listening yet, JetStream not enabled
// while a cluster elects its leader, connection lost) and gives up one that would fail however
// often it is sent (a refusal of the message itself, an invalid subject, a payload above the
// server's limit, a denied permission): retrying that would only hold up everything behind it.

/** An error that says itself whether sending the message again can succeed. */
export interface ClassifiedPublishError extends Error {
  readonly retryable: boolean;
}

// What nats.js throws (its error names) that would fail again for the same message. Only for
// errors that do not carry `retryable` themselves: nats.js's, when a client other than
// JetStreamAckPublisher publishes, or when NatsConnection.publish throws synchronously.
const PERMANENT_NATS_ERRORS: ReadonlySet<string> = new Set([
  "JetStreamError",
  "InvalidSubjectError",
  "InvalidArgumentError",
  "PermissionViolationError",
]);

export function isRetryablePublishError(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  const { retryable } = error as Partial<ClassifiedPublishError>;
  if (typeof retryable === "boolean") return retryable;
  if (error.name === "JetStreamApiError") {
    // The stream answered with an error: a 5xx (JetStream temporarily unavailable) passes, a 4xx does not.
    const status = (error as Error & { status?: unknown }).status;
    return typeof status === "number" && status >= 500;
  }
  return !PERMANENT_NATS_ERRORS.has(error.name);
}
