// The collector's way onto the bus: messages are queued at once and published in the background
// with a bounded number of JetStream acknowledgements in flight, so a slow or absent bus never
// holds up sampling. A message the bus does not acknowledge stays queued and is sent again, in
// order, once the bus answers; its message id makes a retry of a message that did arrive count
// once (JetStream's duplicate window, and after that the store's unique (container, ts)).
//
// The queue is bounded: beyond `maxBuffered` waiting messages the oldest is dropped and counted,
// so a long outage costs the oldest samples instead of all memory. An outage is logged when it
// starts and when it ends (with how many messages it cost), never once per message.
import type { Logger } from "@crowsnest/shared";

/** The subset of a JetStream client the queue needs (a Bus's `js` has it; so does JetStreamAckPublisher). */
export interface JetStreamPublisher {
  /** Resolves with the stream's acknowledgement; rejects when there is none in `timeout` ms, or a refusal. */
  publish(
    subject: string,
    payload: Uint8Array,
    options: { msgID: string; timeout?: number },
  ): Promise<unknown>;
}

export interface OutgoingMessage {
  readonly subject: string;
  readonly payload: Uint8Array;
  /** JetStream's Nats-Msg-Id: the same message sent twice is stored once. */
  readonly msgID: string;
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

// A publish that failed with one of these would fail again however often it is sent: a refusal of
// the message itself, an invalid subject, a payload above the server's limit, a denied permission.
// Retrying it would only block the queue. Every other failure (no acknowledgement in time, no
// stream listening yet, connection lost) may succeed later, so the message is kept.
const PERMANENT_FAILURES = new Set([
  "JetStreamError",
  "InvalidSubjectError",
  "InvalidArgumentError",
  "PermissionViolationError",
]);

export function isRetryable(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  if (error.name === "JetStreamApiError") {
    // The stream answered with an error: a 5xx (JetStream temporarily unavailable) passes, a 4xx does not.
    const status = (error as Error & { status?: unknown }).status;
    return typeof status === "number" && status >= 500;
  }
  return !PERMANENT_FAILURES.has(error.name);
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
  #inFlight = 0;
  #seq = 0;

  /** Set while the bus does not take messages: only one probe at a time is sent. */
  #outageStartedAtMs: number | undefined;
  #probing = false;
  #probeTimer: NodeJS.Timeout | undefined;
  #failuresInOutage = 0;
  #droppedInEpisode = 0;
  #rejectLogged = false;
  #stopped = false;

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

  /** Queues a message; never blocks and never throws. */
  enqueue(message: OutgoingMessage): void {
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

  counts(): PublishQueueCounts {
    return {
      waiting: this.#waitingCount(),
      inFlight: this.#inFlight,
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
        { unsent: this.#waitingCount() + this.#inFlight, dropped: this.#dropped },
        "stopping with messages the bus has not acknowledged; they are lost",
      );
    }
  }

  #waitingCount(): number {
    return this.#retry.length + this.#waiting.length - this.#head;
  }

  #idle(): boolean {
    return this.#inFlight === 0 && this.#waitingCount() === 0;
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
    if (this.#takeNext() === undefined) return;
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
    while (this.#inFlight < this.#maxInFlight) {
      const entry = this.#takeNext();
      if (entry === undefined) break;
      this.#send(entry, this.#ackTimeoutMs);
    }
    if (this.#idle()) this.#becameIdle();
  }

  #send(entry: Entry, timeoutMs: number): void {
    this.#inFlight += 1;
    let sent: Promise<unknown>;
    try {
      sent = this.#js.publish(entry.message.subject, entry.message.payload, {
        msgID: entry.message.msgID,
        timeout: timeoutMs,
      });
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      () => this.#acknowledged(),
      (error: unknown) => this.#failed(entry, error),
    );
  }

  #acknowledged(): void {
    this.#inFlight -= 1;
    this.#published += 1;
    this.#probing = false;
    this.#rejectLogged = false;
    if (this.#outageStartedAtMs !== undefined) this.#endOutage();
    this.#pump();
  }

  #failed(entry: Entry, error: unknown): void {
    this.#inFlight -= 1;
    this.#probing = false;
    if (!isRetryable(error)) {
      this.#rejected += 1;
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
      if (this.#inFlight > 0) {
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
