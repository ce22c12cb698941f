// The store's durable consumer of alert transitions (`store-notify` on the alerts stream): fans
// each transition out to its channels' delivery queues (notification-fanout.ts) and acks it only
// once that is committed, one transition at a time in stream order. Several store instances share
// the consumer, which hands out one transition at a time, so they fan out in order too; the
// fan-out is idempotent, so a redelivery never queues a message twice.
//
// The transition's id travels in the JetStream message id (`Nats-Msg-Id: alert/<id>`) that the
// alert publisher sets; a message without one, or that fails the schema, is dead-lettered.
import {
  type ConsumerDefinition,
  codecs,
  type DeadletterReason,
  type DeadletterSink,
  type Logger,
  type Subjects,
  streamName,
} from "@crowsnest/shared";
import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import type { PullSource } from "../ingest/batch-consumer.ts";
import { rejectToDeadletters } from "../ingest/deadletter-reject.ts";
import type { FanOutOutcome } from "./notification-fanout.ts";

export const NOTIFY_CONSUMER = "store-notify";
const MSG_ID = /^alert\/(\d{1,18})$/;
const MIN_RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 30_000;
const RESUBSCRIBE_DELAY_MS = 1000;

export function notifyConsumerDefinition(
  subjects: Subjects,
  options: { ackWaitMs: number },
): ConsumerDefinition {
  return {
    role: "notify",
    stream: streamName(subjects, "alerts"),
    config: {
      durable_name: NOTIFY_CONSUMER,
      filter_subject: subjects.all("alerts"),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      // One transition out at a time, across every store instance: the next is handed out only
      // once the previous one's fan-out committed (and was acked), so deliveries are queued in
      // stream order even with several instances. Fan-out takes milliseconds; transitions are
      // far fewer than that allows (benchmark: 1 000 a minute with room to spare).
      max_ack_pending: 1,
      ack_wait: options.ackWaitMs * 1_000_000, // nanoseconds
    },
  };
}

export interface NotificationConsumerOptions {
  source: PullSource;
  fanOut: (transitionId: string) => Promise<FanOutOutcome>;
  /** Told after a fan-out queued deliveries, so they are sent at once. */
  onQueued: () => void;
  isDataError: (error: unknown) => boolean;
  deadletters: DeadletterSink;
  ackWaitMs: number;
  logger: Logger;
}

export class NotificationConsumer {
  readonly #options: NotificationConsumerOptions;
  #messages: ConsumerMessages | undefined;
  #running: Promise<void> | undefined;
  #stopping = false;
  #failingSince: number | undefined;
  #wakeSleep: (() => void) | undefined;

  constructor(options: NotificationConsumerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#running = this.#run();
  }

  /** Stops pulling; the transition in hand is finished (or nak'ed while the database is down). */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#messages?.close();
    this.#wakeSleep?.();
    await this.#running;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      try {
        this.#messages = await this.#options.source.consume({ max_messages: 100 });
        for await (const msg of this.#messages) {
          if (this.#stopping) {
            msg.nak();
            continue;
          }
          await this.#handle(msg);
        }
      } catch (error) {
        this.#options.logger.error({ err: error, consumer: NOTIFY_CONSUMER }, "JetStream consume failed");
      }
      if (!this.#stopping) await this.#sleep(RESUBSCRIBE_DELAY_MS);
    }
  }

  async #handle(msg: JsMsg): Promise<void> {
    const decoded = codecs.alertTransition.decode(msg.data);
    if (!decoded.ok) return this.#reject(msg, decoded.reason, decoded.detail);
    const transitionId = MSG_ID.exec(msg.headers?.get("Nats-Msg-Id") ?? "")?.[1];
    if (transitionId === undefined) {
      return this.#reject(msg, "unprocessable", "no transition id: Nats-Msg-Id must be alert/<id>");
    }
    let delayMs = MIN_RETRY_DELAY_MS;
    for (;;) {
      try {
        const outcome = await this.#options.fanOut(transitionId);
        this.#resumed();
        if (outcome.kind === "unknown_transition") {
          // Its history row is gone (retention) or another deployment published it: nothing to send.
          this.#options.logger.warn(
            { transition_id: transitionId, subject: msg.subject },
            "alert transition not in the history; not notified",
          );
        } else if (outcome.kind === "queued" && outcome.deliveries > 0) this.#options.onQueued();
        msg.ack();
        return;
      } catch (error) {
        if (this.#options.isDataError(error)) {
          return this.#reject(msg, "unprocessable", error instanceof Error ? error.message : String(error));
        }
        if (this.#failingSince === undefined) {
          this.#failingSince = Date.now();
          this.#options.logger.error(
            { err: error, consumer: NOTIFY_CONSUMER },
            "notification fan-out failed; retrying with backoff",
          );
        }
        if (this.#stopping) {
          msg.nak();
          return;
        }
        // Retried in place, not nak'ed, so later transitions never overtake this one.
        msg.working();
        await this.#sleep(Math.min(delayMs, this.#options.ackWaitMs / 2));
        delayMs = Math.min(delayMs * 2, MAX_RETRY_DELAY_MS);
      }
    }
  }

  async #reject(msg: JsMsg, reason: DeadletterReason, detail: string): Promise<void> {
    const { deadletters, logger } = this.#options;
    await rejectToDeadletters(msg, reason, detail, { deadletters, logger, consumer: NOTIFY_CONSUMER });
  }

  #resumed(): void {
    if (this.#failingSince === undefined) return;
    this.#options.logger.info(
      { consumer: NOTIFY_CONSUMER, outage_ms: Date.now() - this.#failingSince },
      "notification fan-out resumed",
    );
    this.#failingSince = undefined;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wakeSleep = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
