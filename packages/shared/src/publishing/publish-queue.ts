// How the agents (collector and watcher) reach the bus: messages are queued at once and published
// in the background with a bounded number of JetStream acknowledgements in flight, so a slow or
// absent bus never holds up sampling, nor the reading of a runtime's event stream (dockerd drops
// events for a subscriber that does not keep up). A message the bus does not acknowledge stays queued and is sent again, in
// order, once the bus answers; its message id makes a retry of a message that did arrive count
// once (JetStream's duplicate window, and after that the store's unique (container, ts)).
//
// The queue is bounded: beyond `maxBuffered` waiting messages the oldest is dropped and counted,
// so a long outage costs the oldest samples instead of all memory. An outage is logged when it
// starts and when it ends (with how many messages it cost), never once per message. A message the
// bus refuses for what it is (see publish-failure.ts) is logged and not sent again, so it never
// holds up the messages behind it.
//
// afterStored() lets a caller act once everything it queued so far is stored (the watcher records
// what it published, to resume from after a restart), and not at all if some of it was lost.
import type { Logger } from "../log/logger.ts";
import type { EncodedMsgId } from "./jetstream-ack-publisher.ts";
import { isRetryablePublishError } from "./publish-failure.ts";

/** The subset of a JetStream client the queue needs (a Bus's `js` has it; so does JetStreamAckPublisher). */
export interface JetStreamPublisher {
  /** Resolves with the stream's acknowledgement; rejects when there is none in `timeout` ms, or a refusal. */
  publish(
    subject: string,
    payload: Uint8Array,
    options: { msgID: string; timeout?: number },
  ): Promise<unknown>;
  /**
   * The same publish, its outcome reported to `settled` (an error, or undefined once stored)
   * instead of a promise, and never before send() returns; used when present, as it costs less
   * per message (JetStreamAckPublisher has it).
   */
  send?(
    subject: string,
    payload: Uint8Array,
    options: { msgID: string | EncodedMsgId; timeout?: number },
    settled: (error: Error | undefined) => void,
  ): void;
}

export interface OutgoingMessage {
  readonly subject: string;
  readonly payload: Uint8Array;
  /**
   * JetStream's Nats-Msg-Id: the same message sent twice is stored once. Encoded already
   * (MsgIdStart), it goes out as it is where the publisher has send(), as a string otherwise.
   */
  readonly msgID: string | EncodedMsgId;
}

export interface PublishQueueOptions {
  js: JetStreamPublisher;
  logger: Logger;
  /** Most messages waiting to be sent (not counting those in flight); beyond it the oldest are dropped. */
  maxBuffered: number;
  /** Most publishes awaiting their acknowledgement at once. */
  maxInFlight: number;
  /** How long one publish waits for its acknowledgement; defaults to 5 s. */
  ackTimeoutMs?: number;
  /** During an outage, the pause between two attempts to send the oldest message; defaults to 500 ms. */
  retryDelayMs?: number;
  /** How long such an attempt waits for its acknowledgement; defaults to 2 s. */
  probeTimeoutMs?: number;
  /**
   * How long a queued message may wait for others before sending starts; defaults to 0 (at once).
   * Samples read through the Docker API arrive one by one within a few milliseconds; waiting that
   * long sends them in one socket write instead of one write each.
   */
  batchDelayMs?: number;
  now?: () => number;
}

export interface PublishQueueCounts {
  /** Waiting to be sent, including messages to be sent again. */
  waiting: number;
  inFlight: number;
  /** Acknowledged by the bus since start. */
  published: number;
  /** Dropped, oldest first, because the queue was full, since start. */
  dropped: number;
  /** Refused by the bus for what they are (not for an outage) and not sent again, since start. */
  rejected: number;
}

interface Entry {
  /** Enqueue order: retries go back in this order, ahead of everything newer. */
  readonly seq: number;
  readonly message: OutgoingMessage;
}

interface Callback {
  /** The newest message queued before the callback; it runs once every message up to it has settled. */
  readonly afterSeq: number;
  readonly run: () => void;
  /** A message it waits for was dropped or refused: what it would record was never all published. */
  skip: boolean;
}

export class PublishQueue {
  readonly #js: JetStreamPublisher;
  readonly #logger: Logger;
  readonly #maxBuffered: number;
  readonly #maxInFlight: number;
  readonly #ackTimeoutMs: number;
  readonly #retryDelayMs: number;
  readonly #probeTimeoutMs: number;
  readonly #batchDelayMs: number;
  readonly #now: () => number;
  #batchTimer: NodeJS.Timeout | undefined;

  /** New messages, oldest first, from #head on (shifting an array of 100 000 would cost O(n) each). */
  #waiting: Entry[] = [];
  #head = 0;
  /** Messages that failed in flight, in enqueue order; they go out before any of #waiting. */
  readonly #retry: Entry[] = [];
  /** The sequence numbers of the messages in flight. */
  readonly #inFlightSeqs = new Set<number>();
  #seq = 0;
  /** Waiting for the messages queued before them, in the order they were added. */
  #callbacks: Callback[] = [];

  /** Set while the bus does not take messages: only one probe at a time is sent. */
  #outageStartedAtMs: number | undefined;
  #probing = false;
  #probeTimer: NodeJS.Timeout | undefined;
  #failuresInOutage = 0;
  #droppedInEpisode = 0;
  #rejectLogged = false;
  #stopped = false;
  #droppedAfterStopLogged = false;

  #published = 0;
  #dropped = 0;
  #rejected = 0;
  readonly #idleWaiters = new Set<() => void>();

  constructor(options: PublishQueueOptions) {
    this.#js = options.js;
    this.#logger = options.logger;
    this.#maxBuffered = Math.max(1, options.maxBuffered);
    this.#maxInFlight = Math.max(1, options.maxInFlight);
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.#retryDelayMs = options.retryDelayMs ?? 500;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? Math.min(2000, this.#ackTimeoutMs);
    this.#batchDelayMs = options.batchDelayMs ?? 0;
    this.#now = options.now ?? Date.now;
  }

  /** Queues a message; never blocks and never throws. After stop() the message is dropped. */
  enqueue(message: OutgoingMessage): void {
    if (this.#stopped) {
      this.#dropped += 1;
      if (!this.#droppedAfterStopLogged) {
        this.#droppedAfterStopLogged = true;
        this.#logger.warn(
          { subject: message.subject },
          "message queued after the publish queue stopped; dropped",
        );
      }
      return;
    }
    if (this.#waitingCount() >= this.#maxBuffered) this.#dropOldest();
    this.#waiting.push({ seq: ++this.#seq, message });
    if (this.#batchDelayMs <= 0) {
      this.#pump();
    } else if (this.#batchTimer === undefined) {
      this.#batchTimer = setTimeout(() => {
        this.#batchTimer = undefined;
        this.#pump();
      }, this.#batchDelayMs);
    }
  }

  /**
   * Sends what is queued now, without waiting out the batch delay: the caller knows nothing more
   * is coming for a while (a tick's samples are all queued).
   */
  sendNow(): void {
    if (this.#batchTimer === undefined) return;
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    this.#pump();
  }

  /**
   * Runs `callback` once every message queued before it has been stored (or refused), in queue
   * order with the other callbacks; at once if nothing is outstanding. If one of the messages
   * queued since the previous callback was dropped or refused, or the queue stops first, the
   * callback is skipped: what it would record was never all published.
   */
  afterStored(callback: () => void): void {
    if (this.#stopped) return;
    this.#callbacks.push({ afterSeq: this.#seq, run: callback, skip: false });
    this.#runSettledCallbacks();
  }

  counts(): PublishQueueCounts {
    return {
      waiting: this.#waitingCount(),
      inFlight: this.#inFlightSeqs.size,
      published: this.#published,
      dropped: this.#dropped,
      rejected: this.#rejected,
    };
  }

  /** Whether the bus is currently not taking messages. */
  get inOutage(): boolean {
    return this.#outageStartedAtMs !== undefined;
  }

  /** Resolves true once nothing waits or is in flight, false if that takes longer than `timeoutMs`. */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.#idle()) return true;
    let wake: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => {
      wake = () => resolve(true);
      this.#idleWaiters.add(wake);
    });
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([idle, expired]);
    } finally {
      clearTimeout(timer);
      if (wake) this.#idleWaiters.delete(wake);
    }
  }

  /** Sends what it can within `timeoutMs`, then stops retrying and says what the bus never took. */
  async stop(timeoutMs: number): Promise<void> {
    const flushed = await this.flush(timeoutMs);
    // Nothing is sent from here on: the connection is about to close, and every retry would fail.
    this.#stopped = true;
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    if (!flushed) {
      this.#logger.warn(
        { unsent: this.#waitingCount() + this.#inFlightSeqs.size, dropped: this.#dropped },
        "stopping with messages the bus has not acknowledged; they are lost",
      );
    }
    // What still waits is lost; a publish still in flight counts when it settles.
    this.#dropped += this.#waitingCount();
    this.#retry.length = 0;
    this.#waiting = [];
    this.#head = 0;
    this.#callbacks = [];
  }

  #waitingCount(): number {
    return this.#retry.length + this.#waiting.length - this.#head;
  }

  #idle(): boolean {
    return this.#inFlightSeqs.size === 0 && this.#waitingCount() === 0;
  }

  /** The oldest message not yet stored, refused or dropped; Infinity when there is none. */
  #oldestUnsettledSeq(): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const seq of this.#inFlightSeqs) oldest = Math.min(oldest, seq);
    const retried = this.#retry[0];
    if (retried !== undefined) oldest = Math.min(oldest, retried.seq);
    const waiting = this.#waiting[this.#head];
    if (waiting !== undefined) oldest = Math.min(oldest, waiting.seq);
    return oldest;
  }

  /** A message was dropped or refused: the first callback waiting for it will not run. */
  #lost(seq: number): void {
    const callback = this.#callbacks.find((candidate) => candidate.afterSeq >= seq);
    if (callback !== undefined) callback.skip = true;
  }

  #runSettledCallbacks(): void {
    if (this.#callbacks.length === 0) return;
    const oldest = this.#oldestUnsettledSeq();
    let settled = 0;
    while (settled < this.#callbacks.length && (this.#callbacks[settled]?.afterSeq ?? 0) < oldest)
      settled += 1;
    if (settled === 0) return;
    for (const callback of this.#callbacks.splice(0, settled)) {
      if (callback.skip) continue;
      try {
        callback.run();
      } catch (error) {
        this.#logger.error({ err: error }, "callback after publishing failed");
      }
    }
  }

  #takeNext(): Entry | undefined {
    if (this.#retry.length > 0) return this.#retry.shift();
    if (this.#head >= this.#waiting.length) return undefined;
    const entry = this.#waiting[this.#head];
    this.#head += 1;
    // Compact now and then, so taken entries do not pile up in memory.
    if (this.#head >= 1024 && this.#head * 2 >= this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }

  #dropOldest(): void {
    const entry = this.#takeNext();
    if (entry === undefined) return;
    this.#lost(entry.seq);
    this.#dropped += 1;
    this.#droppedInEpisode += 1;
    if (this.#droppedInEpisode === 1) {
      this.#logger.warn(
        { max_buffered: this.#maxBuffered },
        "publish queue full; dropping the oldest messages until the bus takes them again",
      );
    }
  }

  #pump(): void {
    if (this.#stopped) return;
    if (this.#outageStartedAtMs !== undefined) {
      this.#scheduleProbe();
      return;
    }
    while (this.#inFlightSeqs.size < this.#maxInFlight) {
      const entry = this.#takeNext();
      if (entry === undefined) break;
      this.#send(entry, this.#ackTimeoutMs);
    }
    if (this.#idle()) this.#becameIdle();
  }

  #send(entry: Entry, timeoutMs: number): void {
    this.#inFlightSeqs.add(entry.seq);
    if (this.#js.send !== undefined) {
      this.#js.send(
        entry.message.subject,
        entry.message.payload,
        { msgID: entry.message.msgID, timeout: timeoutMs },
        (error) => {
          if (error === undefined) this.#acknowledged(entry);
          else this.#failed(entry, error);
        },
      );
      return;
    }
    let sent: Promise<unknown>;
    try {
      sent = this.#js.publish(entry.message.subject, entry.message.payload, {
        msgID: String(entry.message.msgID),
        timeout: timeoutMs,
      });
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      () => this.#acknowledged(entry),
      (error: unknown) => this.#failed(entry, error),
    );
  }

  #acknowledged(entry: Entry): void {
    this.#inFlightSeqs.delete(entry.seq);
    this.#published += 1;
    this.#runSettledCallbacks();
    this.#probing = false;
    this.#rejectLogged = false;
    if (this.#outageStartedAtMs !== undefined) this.#endOutage();
    this.#pump();
  }

  #failed(entry: Entry, error: unknown): void {
    this.#inFlightSeqs.delete(entry.seq);
    this.#probing = false;
    if (this.#stopped) {
      // Sent before stop() and never acknowledged: lost, as stop() said.
      this.#dropped += 1;
      return;
    }
    if (!isRetryablePublishError(error)) {
      this.#rejected += 1;
      this.#lost(entry.seq);
      this.#runSettledCallbacks();
      if (!this.#rejectLogged) {
        this.#rejectLogged = true;
        this.#logger.warn(
          { err: error, subject: entry.message.subject },
          "the bus refused a message; it is not sent again (further refusals at debug level)",
        );
      } else {
        this.#logger.debug({ err: error, subject: entry.message.subject }, "the bus refused a message");
      }
      this.#pump();
      return;
    }
    this.#requeue(entry);
    this.#failuresInOutage += 1;
    if (this.#outageStartedAtMs === undefined) {
      this.#outageStartedAtMs = this.#now();
      this.#logger.warn(
        {
          err: error,
          subject: entry.message.subject,
          waiting: this.#waitingCount(),
          max_buffered: this.#maxBuffered,
        },
        "publishing to the bus failed; queueing messages and sending them in order once it answers",
      );
    }
    this.#pump();
  }

  /** Back into the retry list at its place in enqueue order (failures settle in any order). */
  #requeue(entry: Entry): void {
    let index = this.#retry.length;
    while (index > 0 && (this.#retry[index - 1]?.seq ?? 0) > entry.seq) index -= 1;
    this.#retry.splice(index, 0, entry);
  }

  #scheduleProbe(): void {
    if (this.#probeTimer !== undefined || this.#probing) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      if (this.#outageStartedAtMs === undefined) return;
      // Publishes still in flight settle first: each either ends the outage or comes back to the queue.
      if (this.#inFlightSeqs.size > 0) {
        this.#scheduleProbe();
        return;
      }
      const entry = this.#takeNext();
      if (entry === undefined) {
        this.#scheduleProbe();
        return;
      }
      this.#probing = true;
      this.#send(entry, this.#probeTimeoutMs);
    }, this.#retryDelayMs);
  }

  #endOutage(): void {
    const startedAtMs = this.#outageStartedAtMs ?? this.#now();
    this.#outageStartedAtMs = undefined;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#logger.info(
      {
        outage_ms: this.#now() - startedAtMs,
        failures: this.#failuresInOutage,
        dropped: this.#droppedInEpisode,
        waiting: this.#waitingCount(),
      },
      "publishing to the bus works again; sending the queued messages in order",
    );
    this.#failuresInOutage = 0;
    this.#droppedInEpisode = 0;
  }

  #becameIdle(): void {
    // A full queue that emptied without an outage (a burst) ends its episode too.
    if (this.#droppedInEpisode > 0 && this.#outageStartedAtMs === undefined) {
      this.#logger.info({ dropped: this.#droppedInEpisode }, "publish queue drained");
      this.#droppedInEpisode = 0;
    }
    for (const wake of this.#idleWaiters) wake();
  }
}
