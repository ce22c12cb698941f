// Publishes the watcher's messages to JetStream one at a time, in the order they were queued,
// retrying each until the server has stored it. Reading dockerd's event stream never waits
// on NATS: dockerd drops events for a subscriber that does not keep up, so a NATS outage
// must back up here (bounded), not in the socket.
import type { Logger } from "@crowsnest/shared";
import { abortableSleep } from "@crowsnest/shared/util/abortable-sleep";
import { type BackoffOptions, CappedBackoff } from "@crowsnest/shared/util/capped-backoff";

/** The subset of @nats-io/jetstream's JetStreamClient the queue uses. */
export interface JetStreamPublisher {
  publish(subject: string, payload: Uint8Array, options: { msgID: string }): Promise<unknown>;
}

export interface OutgoingMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** JetStream de-duplicates on it, which makes retrying a publish that timed out safe. */
  readonly msgID: string;
}

export interface PublishQueueOptions {
  js: JetStreamPublisher;
  logger: Logger;
  /** Messages held while NATS is unreachable; beyond it the oldest is dropped. */
  maxQueued?: number;
  retry?: BackoffOptions;
  /** After close(), attempts per message before it is given up, so shutdown ends on its own. */
  attemptsAfterClose?: number;
}

export interface PublishQueue {
  enqueue(message: OutgoingMessage): void;
  /**
   * Runs `callback` once every message queued before it has been stored, in queue order with
   * the messages. If one of the messages queued since the previous callback was dropped
   * (overflow, or given up at shutdown), the callback is skipped: what it would record was
   * never published.
   */
  afterStored(callback: () => void): void;
  /** Resolves when everything queued so far has been published or given up. */
  drain(): Promise<void>;
  /** Stops accepting messages and drains what is queued. */
  close(): Promise<void>;
  readonly pending: number;
  readonly dropped: number;
}

export function createPublishQueue(options: PublishQueueOptions): PublishQueue {
  const { js, logger } = options;
  const maxQueued = options.maxQueued ?? 10_000;
  const attemptsAfterClose = options.attemptsAfterClose ?? 3;
  const backoff = new CappedBackoff(options.retry ?? { initialMs: 250, maxMs: 5000 });
  /** `skip`: a message queued before the callback (since the previous one) was dropped. */
  type Item = { readonly message: OutgoingMessage } | { readonly callback: () => void; skip: boolean };
  const queue: Item[] = [];
  let messagesQueued = 0;
  /** What a callback after queue[index] would record was not all published. */
  const skipNextCallback = (index: number): void => {
    for (let i = index; i < queue.length; i++) {
      const item = queue[i];
      if (item !== undefined && "callback" in item) {
        item.skip = true;
        return;
      }
    }
  };
  const closing = new AbortController();
  let worker: Promise<void> | undefined;
  let dropped = 0;
  let failing = false;
  let overflowing = false;

  const publishHead = async (message: OutgoingMessage): Promise<void> => {
    let attemptsSinceClose = 0;
    for (;;) {
      try {
        await js.publish(message.subject, message.data, { msgID: message.msgID });
        if (failing) {
          logger.info({ retries: backoff.failures }, "publishing to JetStream again");
          failing = false;
        }
        backoff.reset();
        return;
      } catch (error) {
        if (!failing) {
          // Logged once per outage; every retry after this is debug.
          logger.warn({ err: error, subject: message.subject }, "JetStream publish failed; retrying");
          failing = true;
        } else {
          logger.debug({ err: error, subject: message.subject }, "JetStream publish failed again");
        }
        if (closing.signal.aborted && ++attemptsSinceClose >= attemptsAfterClose) {
          dropped += 1;
          skipNextCallback(1);
          logger.error({ subject: message.subject, msg_id: message.msgID }, "gave up publishing at shutdown");
          return;
        }
        await abortableSleep(backoff.next(), closing.signal);
      }
    }
  };

  const runCallback = (callback: () => void): void => {
    try {
      callback();
    } catch (error) {
      logger.error({ err: error }, "callback after publishing failed");
    }
  };

  const work = async (): Promise<void> => {
    for (let item = queue[0]; item !== undefined; item = queue[0]) {
      if ("message" in item) {
        await publishHead(item.message);
        messagesQueued -= 1;
      } else if (!item.skip) {
        runCallback(item.callback);
      }
      // An overflow never drops the head, so the head is still the item just handled.
      queue.shift();
    }
    worker = undefined;
  };

  const drain = async (): Promise<void> => {
    while (worker !== undefined) await worker;
  };

  return {
    enqueue(message) {
      if (closing.signal.aborted) {
        dropped += 1;
        logger.warn({ subject: message.subject }, "message queued after shutdown began; dropped");
        return;
      }
      queue.push({ message });
      messagesQueued += 1;
      if (messagesQueued > maxQueued) {
        // Drop the oldest message that is not being published right now (callbacks stay).
        const index = queue.findIndex((item, i) => i > 0 && "message" in item);
        if (index !== -1) {
          queue.splice(index, 1);
          messagesQueued -= 1;
          dropped += 1;
          skipNextCallback(index);
        }
        if (!overflowing) {
          logger.error({ max_queued: maxQueued }, "publish queue full; dropping the oldest messages");
          overflowing = true;
        }
      } else if (overflowing && messagesQueued < maxQueued / 2) {
        overflowing = false;
      }
      worker ??= work();
    },
    afterStored(callback) {
      if (closing.signal.aborted) return;
      queue.push({ callback, skip: false });
      worker ??= work();
    },
    drain,
    async close() {
      closing.abort();
      await drain();
    },
    get pending() {
      return messagesQueued;
    },
    get dropped() {
      return dropped;
    },
  };
}
