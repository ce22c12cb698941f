// Sends a message a consumer cannot use to dead letters and acknowledges it, for every durable
// consumer of the store. Should the dead letter itself fail (the dead-letter stream unavailable),
// the message comes back a few times with growing delays, then is terminated with one error line:
// redelivering it for the stream's whole retention, to every instance, would help no one.
import { createHash } from "node:crypto";
import type { DeadletterReason, DeadletterSink, Logger } from "@crowsnest/shared";
import type { JsMsg } from "@nats-io/jetstream";

/** Deliveries of a message whose dead letter could not be sent before it is given up. */
export const DEADLETTER_ATTEMPTS = 5;
/** Before the second delivery; doubled before each next one (2, 4, 8, 16 s: 30 s in all). */
const DEADLETTER_RETRY_DELAY_MS = 2000;

export interface DeadletterRejectOptions {
  deadletters: DeadletterSink;
  logger: Logger;
  /** For logs: which consumer refused it. */
  consumer: string;
}

export async function rejectToDeadletters(
  msg: JsMsg,
  reason: DeadletterReason,
  detail: string,
  options: DeadletterRejectOptions,
): Promise<void> {
  try {
    // Named by the message's place in its stream: should JetStream deliver it again anyway
    // (a stall longer than the ack wait), its second dead letter is dropped by the stream.
    const messageId = `${msg.info.stream}/${msg.seq}`;
    await options.deadletters.send(msg.subject, msg.data, reason, detail, messageId);
    msg.ack();
  } catch (error) {
    const attempt = msg.info.deliveryCount;
    if (attempt < DEADLETTER_ATTEMPTS) {
      // Not lost yet: a passing failure deserves a few more deliveries (only the end is logged
      // above debug, so a message that cannot be dead-lettered makes one line).
      options.logger.debug(
        { err: error, consumer: options.consumer, subject: msg.subject, reason, attempt },
        "could not dead-letter a message; will retry",
      );
      msg.nak(DEADLETTER_RETRY_DELAY_MS * 2 ** (attempt - 1));
      return;
    }
    options.logger.error(
      {
        err: error,
        consumer: options.consumer,
        subject: msg.subject,
        reason,
        detail: detail.slice(0, 1000),
        payload_size_bytes: msg.data.length,
        payload_sha256: createHash("sha256").update(msg.data).digest("hex"),
        stream_sequence: msg.seq,
        attempts: attempt,
      },
      "could not dead-letter a message; gave up and terminated it",
    );
    msg.term();
  }
}
