// Hands stats samples to the publish queue: validates each against the contract and queues it on
// its subject with a message id that makes a republished sample count once. The queue sends it in
// the background and keeps it through a bus outage, so sampling never waits for the bus.
//
// Validation takes the shared quick check (isStatsMessage) where it recognises the message
// (every sample this collector builds), and the contract's schema for anything else, which also
// words the reason a message is refused.
import { codecs, isStatsMessage, type StatsMessage, type Subjects } from "@crowsnest/shared";
import type { OutgoingMessage } from "@crowsnest/shared/publishing";
import type { PublishResult, StatsSink } from "../core/stats-sink.ts";

/** The subset of PublishQueue the publishers need. */
export interface MessageQueue {
  enqueue(message: OutgoingMessage): void;
  /** Sends what is queued now instead of after the queue's batch delay. */
  sendNow?(): void;
}

export interface StatsPublisherOptions {
  queue: MessageQueue;
  subjects: Subjects;
}

/** `<host>/<runtime>/<container id>/<ts>`: one sample of one container, whatever its name. */
export function statsMessageId(message: StatsMessage): string {
  return `${message.host}/${message.runtime}/${message.container.external_id}/${message.ts}`;
}

export class StatsPublisher implements StatsSink {
  readonly #queue: MessageQueue;
  readonly #subjects: Subjects;

  constructor(options: StatsPublisherOptions) {
    this.#queue = options.queue;
    this.#subjects = options.subjects;
  }

  publish(message: StatsMessage): PublishResult {
    let payload: Uint8Array;
    if (isStatsMessage(message)) {
      payload = Buffer.from(JSON.stringify(message));
    } else {
      const encoded = codecs.stats.encode(message);
      if (!encoded.ok) return { status: "invalid", detail: encoded.detail };
      payload = encoded.data;
    }
    this.#queue.enqueue({
      subject: this.#subjects.stats(message.host, message.runtime, message.container.name),
      payload,
      msgID: statsMessageId(message),
    });
    return { status: "queued" };
  }

  batchComplete(): void {
    this.#queue.sendNow?.();
  }
}
