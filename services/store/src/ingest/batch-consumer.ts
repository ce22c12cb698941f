// Drains one durable JetStream consumer into the database in batches, closed by size or by
// time, and acknowledges each message only after its batch is committed.
//
// What it guarantees:
// - a message that does not decode, or that `refuse` turns away, is sent to dead letters with
//   the reason, then acked: it never blocks the stream; when even its dead letter cannot be
//   sent, it is tried again on a few more deliveries, then terminated (`term()`) with one error
//   log line;
// - every message it holds (queued, decoding, being written or split) is kept alive with
//   `working()` until it is acknowledged, so JetStream never redelivers a message in hand,
//   however long its batch takes (a database outage, a batch split into single rows);
// - when the database is unreachable it stops pulling (bounded buffer), retries with capped
//   backoff, and resumes in order;
// - when one message's content makes the insert fail (a data error), the batch is split so the
//   others are written and only that message is dead-lettered as unprocessable;
// - up to `writeConcurrency` batches are written at once, and the next batch is decoding
//   meanwhile (so decoding overlaps the database's work), but `afterWrite` (alert evaluation)
//   and the acks run strictly in batch order, as the messages were delivered.
import type { DeadletterReason, DeadletterSink, DecodeResult, Logger } from "@crowsnest/shared";
import type { ConsumeOptions, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { rejectToDeadletters } from "./deadletter-reject.ts";

/** The subset of a JetStream consumer this needs. */
export interface PullSource {
  consume(options: Partial<ConsumeOptions>): Promise<ConsumerMessages>;
}

/** Decoding one message at a time, or a whole batch at once (e.g. on another thread); never throws. */
export type BatchDecoding<T> =
  | { decode: (data: Uint8Array) => DecodeResult<T>; decodeBatch?: never }
  | { decodeBatch: (data: readonly Uint8Array[]) => Promise<DecodeResult<T>[]>; decode?: never };

export type BatchConsumerOptions<T, R = unknown> = BatchDecoding<T> & BatchWriting<T, R>;

export interface BatchWriting<T, R> {
  /** For logs: which stream family this drains. */
  name: string;
  source: PullSource;
  /** Writes a batch durably; throws when it could not. Must be idempotent (redelivery). */
  write: (values: readonly T[]) => Promise<R>;
  /**
   * Runs after `write` committed and before the messages are acked, one batch at a time in
   * delivery order, with what `write` returned. Retried like `write` when it throws; must be
   * idempotent too (a crash before the ack redelivers the batch).
   */
  afterWrite?: (values: readonly T[], written: R) => Promise<void>;
  /** Batches written at the same time (default 1). */
  writeConcurrency?: number;
  /** Turns a decoded value away before it is written (dead-lettered with the reason given). */
  refuse?: (value: T, subject: string) => { reason: DeadletterReason; detail: string } | undefined;
  /** Whether an error from `write` is caused by the data (so retrying cannot help). */
  isDataError: (error: unknown) => boolean;
  deadletters: DeadletterSink;
  batchSize: number;
  batchWaitMs: number;
  ackWaitMs: number;
  logger: Logger;
  /** Told after every attempt to write, so the heartbeat can report database reachability. */
  onWriteOutcome?: (ok: boolean) => void;
}

interface Item<T> {
  msg: JsMsg;
  value: T;
}

interface Received {
  msg: JsMsg;
  receivedAtMs: number;
}

/** A batch taken from the queue, held until each of its messages is acknowledged. */
interface HeldBatch {
  msgs: readonly JsMsg[];
  /** When its oldest message was received. */
  sinceMs: number;
}

const MIN_RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 30_000;
const RESUBSCRIBE_DELAY_MS = 1000;

export class BatchConsumer<T, R = unknown> {
  readonly #options: BatchConsumerOptions<T, R>;
  readonly #queue: Received[] = [];
  /** Above this many buffered messages the pump stops reading, so the client stops pulling. */
  readonly #highWater: number;
  readonly #concurrency: number;
  #messages: ConsumerMessages | undefined;
  #stopping = false;
  #failingSince: number | undefined;
  #pumpEnded = false;
  #wakeWriter: (() => void) | undefined;
  #wakePump: (() => void) | undefined;
  #running: Promise<void> | undefined;
  /** The last batch started: the next one finishes (afterWrite, acks) after it. */
  #ordered: Promise<void> = Promise.resolve();
  readonly #held = new Set<HeldBatch>();

  constructor(options: BatchConsumerOptions<T, R>) {
    this.#options = options;
    this.#concurrency = Math.max(1, options.writeConcurrency ?? 1);
    // Two batches queued (and as many more pulled by the client) keep the next batch ready
    // whenever a write slot frees up. A deeper buffer does not ingest faster; it only keeps
    // each message alive longer, which costs garbage collection (store-ingest benchmark).
    this.#highWater = options.batchSize * 2;
  }

  start(): void {
    const keepAlive = setInterval(() => this.#keepAlive(), this.#options.ackWaitMs / 4);
    this.#running = this.#run().finally(() => clearInterval(keepAlive));
  }

  /**
   * Tells JetStream that the messages held longer than a quarter of the ack wait are still being
   * worked on (`working()` restarts their ack wait; on a message already acknowledged it sends
   * nothing). In steady state a batch is done long before that, and this sends nothing.
   */
  #keepAlive(): void {
    const heldBeforeMs = Date.now() - this.#options.ackWaitMs / 4;
    for (const received of this.#queue) {
      if (received.receivedAtMs >= heldBeforeMs) break;
      received.msg.working();
    }
    for (const batch of this.#held) {
      if (batch.sinceMs < heldBeforeMs) for (const msg of batch.msgs) msg.working();
    }
  }

  /** Stops pulling, writes what was already received (or naks it if the database is down), and returns. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#messages?.close();
    this.#wakeWriter?.();
    this.#wakePump?.();
    await this.#running;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      this.#pumpEnded = false;
      const pump = this.#pump().catch((error: unknown) => {
        this.#options.logger.error({ err: error, consumer: this.#options.name }, "JetStream consume failed");
      });
      const inFlight = new Set<Promise<void>>();
      this.#ordered = Promise.resolve();
      for (let decoding = await this.#decodeNextBatch(); decoding; ) {
        const items = await decoding.items;
        if (items.length > 0) this.#startWriting(items, inFlight, decoding.held);
        else this.#held.delete(decoding.held);
        // The next batch is taken and decoding (it may be on another thread) while this one
        // and the ones before it are written.
        decoding = await this.#decodeNextBatch();
        while (inFlight.size >= this.#concurrency) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      await pump;
      if (!this.#stopping) await sleep(RESUBSCRIBE_DELAY_MS);
    }
  }

  async #decodeNextBatch(): Promise<{ held: HeldBatch; items: Promise<Item<T>[]> } | undefined> {
    const batch = await this.#nextBatch();
    if (batch === undefined) return undefined;
    // Held from here until its last message is acknowledged (see #keepAlive).
    this.#held.add(batch);
    return { held: batch, items: this.#decode(batch.msgs) };
  }

  /** Writes the items (up to `writeConcurrency` batches at once), then finishes them in batch order. */
  #startWriting(items: Item<T>[], inFlight: Set<Promise<void>>, held: HeldBatch): void {
    const writing = this.#writeWithRetry(items);
    const previous = this.#ordered;
    const done = (async () => {
      const written = await writing;
      await previous;
      for (const chunk of written) await this.#finish(chunk.items, chunk.result);
    })().catch((error: unknown) => {
      // #writeWithRetry and #finish handle their errors; this is a bug, not an outage.
      this.#options.logger.error({ err: error, consumer: this.#options.name }, "batch processing failed");
    });
    this.#ordered = done;
    inFlight.add(done);
    void done.finally(() => {
      inFlight.delete(done);
      this.#held.delete(held);
    });
  }

  async #pump(): Promise<void> {
    try {
      this.#messages = await this.#options.source.consume({ max_messages: this.#highWater });
      for await (const msg of this.#messages) {
        this.#queue.push({ msg, receivedAtMs: Date.now() });
        if (this.#queue.length === 1 || this.#queue.length >= this.#options.batchSize) this.#wakeWriter?.();
        while (this.#queue.length >= this.#highWater && !this.#stopping) {
          await new Promise<void>((resolve) => {
            this.#wakePump = resolve;
          });
        }
      }
    } finally {
      this.#pumpEnded = true;
      this.#wakeWriter?.();
    }
  }

  async #waitForWriterWake(timeoutMs: number | undefined): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(resolve, timeoutMs);
      this.#wakeWriter = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });
    this.#wakeWriter = undefined;
  }

  async #nextBatch(): Promise<HeldBatch | undefined> {
    const { batchSize, batchWaitMs } = this.#options;
    while (this.#queue.length === 0) {
      if (this.#pumpEnded) return undefined;
      await this.#waitForWriterWake(undefined);
    }
    while (this.#queue.length < batchSize && !this.#pumpEnded) {
      const oldest = this.#queue[0];
      const remainingMs = oldest ? oldest.receivedAtMs + batchWaitMs - Date.now() : 0;
      if (remainingMs <= 0) break;
      await this.#waitForWriterWake(remainingMs);
    }
    const taken = this.#queue.splice(0, batchSize);
    this.#wakePump?.();
    return { msgs: taken.map((received) => received.msg), sinceMs: taken[0]?.receivedAtMs ?? Date.now() };
  }

  async #decode(batch: readonly JsMsg[]): Promise<Item<T>[]> {
    const { decode, decodeBatch } = this.#options;
    const results = decodeBatch ? await decodeBatch(batch.map((msg) => msg.data)) : undefined;
    const decoded: Item<T>[] = [];
    for (let index = 0; index < batch.length; index++) {
      const msg = batch[index] as JsMsg;
      const result = results ? results[index] : decode?.(msg.data);
      if (result === undefined) {
        // A decoder bug, not the message's fault: let JetStream deliver it again.
        this.#options.logger.error(
          { consumer: this.#options.name, subject: msg.subject },
          "message not decoded",
        );
        msg.nak(MAX_RETRY_DELAY_MS);
      } else if (!result.ok) await this.#reject(msg, result.reason, result.detail);
      else {
        const refusal = this.#options.refuse?.(result.value, msg.subject);
        if (refusal) await this.#reject(msg, refusal.reason, refusal.detail);
        else decoded.push({ msg, value: result.value });
      }
    }
    return decoded;
  }

  /** afterWrite (retried until it works, or naks when stopping), then the acks. */
  async #finish(items: Item<T>[], result: R): Promise<void> {
    const { afterWrite } = this.#options;
    if (afterWrite) {
      const ok = await this.#retrying(async () => {
        try {
          await afterWrite(
            items.map((item) => item.value),
            result,
          );
        } catch (error) {
          if (!this.#options.isDataError(error)) throw error;
          // The batch is stored; retrying cannot help and must not block the stream.
          this.#options.logger.error(
            { err: error, consumer: this.#options.name, messages: items.length },
            "post-write step refused by the database; batch acknowledged without it",
          );
        }
      }, items);
      if (!ok) return;
    }
    for (const item of items) item.msg.ack();
  }

  async #reject(msg: JsMsg, reason: DeadletterReason, detail: string): Promise<void> {
    const { deadletters, logger, name } = this.#options;
    await rejectToDeadletters(msg, reason, detail, { deadletters, logger, consumer: name });
  }

  /**
   * Writes the items, bisecting around data errors (those messages are dead-lettered); returns
   * the chunks that were written with what `write` returned for each. Items of a write abandoned
   * because the consumer is stopping are nak'ed and not returned.
   */
  async #writeWithRetry(items: Item<T>[]): Promise<{ items: Item<T>[]; result: R }[]> {
    let result: R | undefined;
    let dataError: unknown;
    const ok = await this.#retrying(async () => {
      try {
        result = await this.#options.write(items.map((item) => item.value));
      } catch (error) {
        if (!this.#options.isDataError(error)) throw error;
        dataError = error;
      }
    }, items);
    if (!ok) return [];
    if (dataError === undefined) return [{ items, result: result as R }];
    const [item] = items;
    if (items.length === 1 && item) {
      await this.#reject(
        item.msg,
        "unprocessable",
        dataError instanceof Error ? dataError.message : String(dataError),
      );
      return [];
    }
    const middle = Math.ceil(items.length / 2);
    return [
      ...(await this.#writeWithRetry(items.slice(0, middle))),
      ...(await this.#writeWithRetry(items.slice(middle))),
    ];
  }

  /**
   * Runs `attempt` until it succeeds, with capped backoff (the items' messages are kept alive
   * meanwhile by #keepAlive), logging an outage once. False when it gave up because the
   * consumer is stopping (the items are then nak'ed for redelivery).
   */
  async #retrying(attempt: () => Promise<void>, items: Item<T>[]): Promise<boolean> {
    const { logger, name } = this.#options;
    let delayMs = MIN_RETRY_DELAY_MS;
    for (;;) {
      try {
        await attempt();
        this.#options.onWriteOutcome?.(true);
        if (this.#failingSince !== undefined) {
          logger.info(
            { consumer: name, outage_ms: Date.now() - this.#failingSince },
            "database writes resumed",
          );
          this.#failingSince = undefined;
        }
        return true;
      } catch (error) {
        this.#options.onWriteOutcome?.(false);
        // Once per outage of this consumer, however many batches are retrying.
        if (this.#failingSince === undefined) {
          this.#failingSince = Date.now();
          logger.error({ err: error, consumer: name }, "database write failed; retrying with backoff");
        }
        if (this.#stopping) {
          for (const item of items) item.msg.nak();
          return false;
        }
        // Capped at half the ack wait, so a stop during a long outage is noticed soon.
        await sleep(Math.min(delayMs, this.#options.ackWaitMs / 2));
        delayMs = Math.min(delayMs * 2, MAX_RETRY_DELAY_MS);
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
