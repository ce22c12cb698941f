// Publishes into JetStream the cheap way: a plain NATS publish with a reply subject under one
// inbox of this connection, whose single subscription matches each PubAck to its publish.
// `js.publish()` makes every message a full request (its own timer, header object and reply
// bookkeeping) at about 45 µs of CPU each; this costs a fraction of that (perf-facts §1), which
// matters when every container of a host is published every tick.
//
// Semantics are js.publish()'s: the promise resolves with the stream's acknowledgement and
// rejects on a timeout, when no stream listens on the subject, or when the stream refuses the
// message; each error says whether sending the message again can succeed (`retryable`).
// One difference: while the connection is down, a publish fails at once, and when it drops, every
// publish awaiting its acknowledgement fails at once, instead of each at its timeout. Those
// acknowledgements can no longer arrive; failing them now makes the queue hold back newer
// messages until the old ones are through, so a stream that comes back receives them in order.
// (A publish written into a dead connection would otherwise sit out its timeout, while a newer
// one, sent just after the reconnect, would be stored first.)
//
// Timeouts cost one timer, armed for the earliest deadline of the publishes awaiting their
// acknowledgement and cleared as soon as none does: a collector whose acknowledgements all come
// back within its tick wakes up for no timer between ticks (a fixed-rate sweeper woke it ten
// times a second whatever the interval: most of an idle collector's wake-ups at 10 s), nor for
// a deadline it cleared (systemDeadlineClock).
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";
import type { ClassifiedPublishError } from "./publish-failure.ts";
import type { JetStreamPublisher } from "./publish-queue.ts";

/** The subset of a NatsConnection the publisher needs. */
export type AckConnection = Pick<NatsConnection, "publish" | "subscribe" | "status">;

export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

/** No acknowledgement in time: retryable (a retry of a message that did arrive is stored once). */
export class AckTimeoutError extends Error implements ClassifiedPublishError {
  override readonly name = "AckTimeoutError";
  readonly retryable = true;
}

/** No stream listens on the subject, or JetStream is not enabled (the server answered 503): retryable, a stream may appear. */
export class NoStreamError extends Error implements ClassifiedPublishError {
  override readonly name = "NoStreamError";
  readonly retryable = true;
}

/**
 * The stream answered with an error; `status` is its HTTP-like code, `code` JetStream's error
 * code. A 5xx (JetStream temporarily unavailable, as while a cluster elects its leader) is
 * retryable, a 4xx (the message itself is refused, as one above the stream's size limit) is not.
 */
export class StreamRefusedError extends Error implements ClassifiedPublishError {
  override readonly name = "StreamRefusedError";
  readonly status: number;
  readonly code: number;
  readonly retryable: boolean;
  constructor(description: string, status: number, code: number) {
    super(description);
    this.status = status;
    this.code = code;
    this.retryable = status >= 500;
  }
}

/** An answer on the inbox that is not a PubAck: something other than a stream replied, and would again. */
export class InvalidAckError extends Error implements ClassifiedPublishError {
  override readonly name = "InvalidAckError";
  readonly retryable = false;
}

/** A message id a header cannot carry (it holds \r or \n): it would be refused again, not retryable. */
export class InvalidMsgIdError extends Error implements ClassifiedPublishError {
  override readonly name = "InvalidMsgIdError";
  readonly retryable = false;
}

/** The publisher is closed: retryable by whoever publishes through a new one. */
export class PublisherClosedError extends Error implements ClassifiedPublishError {
  override readonly name = "PublisherClosedError";
  readonly retryable = true;
}

/** The connection dropped while the publish awaited its acknowledgement: retryable. */
export class DisconnectedError extends Error implements ClassifiedPublishError {
  override readonly name = "DisconnectedError";
  readonly retryable = true;
}

/** The timers of the acknowledgement deadlines: Node's by default, a manual clock in tests. */
export interface AckDeadlineClock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `run` once after `delayMs`; must not keep the process alive by itself. */
  setTimeout(run: () => void, delayMs: number): unknown;
  clearTimeout(timer: unknown): void;
}

/** A deadline timer of the system clock. */
interface SystemDeadlineTimer {
  timer: NodeJS.Timeout;
  /** Armed longer after the previous one than its delay: most likely the process's next wake-up. */
  earliest: boolean;
}

const noop = (): void => undefined;

/**
 * Node's timers, cleared without leaving the process a wake-up. Node keeps the list of an
 * unref'd timer that is cleared (it deletes only a ref'd timer's emptied list), and does not move
 * its one libuv timer when a list goes: the process still woke when a cleared deadline would have
 * fired, for nothing. A deadline armed as a tick's publishes went out and cleared a millisecond
 * later, when their acknowledgements were in, woke the collector 5 s after every tick at a 10 s
 * interval, each time for most of a millisecond of CPU (the process cold after the pause). So a
 * timer is made ref'd just before it is cleared, which deletes its list; and one that was most
 * likely the next thing to wake the process (armed longer after the previous deadline than its
 * delay: nothing of the caller's comes sooner) leaves a 1 ms timer behind, which makes Node set
 * libuv's timer anew, for the next timer due after it. A caller that arms deadlines more often than
 * their delay (a collector at 1 s with 5 s deadlines) has a wake-up before each anyway and gets
 * no extra timer. test/bench/support/tick-cpu-trace.ts shows the collector's wake-up gone
 * (docs/benchmarks.md, issue #22).
 */
export function systemDeadlineClock(): AckDeadlineClock {
  let lastArmedAtMs = Number.NEGATIVE_INFINITY;
  return {
    now: () => Date.now(),
    setTimeout: (run, delayMs) => {
      const nowMs = Date.now();
      const armed: SystemDeadlineTimer = {
        timer: setTimeout(run, delayMs).unref(),
        earliest: nowMs - lastArmedAtMs > delayMs,
      };
      lastArmedAtMs = nowMs;
      return armed;
    },
    clearTimeout: (timer) => {
      const armed = timer as SystemDeadlineTimer;
      armed.timer.ref();
      clearTimeout(armed.timer);
      if (armed.earliest) setTimeout(noop, 1).unref();
    },
  };
}

/** How a publish's outcome is reported: an error, or none and the stream's acknowledgement. */
export type AckCallback = (error: Error | undefined, ack?: PubAck) => void;

interface Pending {
  settled: AckCallback;
  deadlineMs: number;
}

export interface JetStreamAckPublisherOptions {
  nc: AckConnection;
  /** The connection's inbox prefix (CROWSNEST_NATS_INBOX_PREFIX): per-host users may subscribe only there. */
  inboxPrefix?: string;
  /** Used when a publish names no timeout; defaults to 5 s, like js.publish(). */
  defaultTimeoutMs?: number;
  /** The deadlines' clock and timers; the system's by default. */
  clock?: AckDeadlineClock;
}

const decoder = new TextDecoder();

// What the NATS client writes for a headers object holding only `Nats-Msg-Id` (its
// MsgHdrsImpl.toString: the version line, one `key: value` line, an empty line).
const MSG_ID_HEADER_START = Buffer.from("NATS/1.0\r\nNats-Msg-Id: ", "latin1");
const HEADER_END = Buffer.from("\r\n\r\n", "latin1");

/**
 * The message-id header of one publish, encoded straight into the bytes the client sends. The
 * client reads a headers object only through its encode() when it publishes (nats-core 3.x,
 * `ProtocolHandler.publish`); a full headers object per message (a Map, the key canonicalised and
 * looked up, the value checked with a regular expression, a string built and encoded) was a
 * tenth of a sample's allocations. The value is checked and trimmed as the client's
 * MsgHdrsImpl.append does; jetstream-ack-publisher.test.ts compares the bytes with the client's
 * own, and the integration test sees JetStream store a message id once.
 */
export class MsgIdHeader implements EncodedMsgId {
  readonly #value: string;

  constructor(msgID: string) {
    if (/[\r\n]/.test(msgID)) throw new InvalidMsgIdError("a message id cannot contain \\r or \\n");
    this.#value = msgID.trim();
  }

  toString(): string {
    return this.#value;
  }

  encode(): Uint8Array {
    const valueLength = Buffer.byteLength(this.#value, "utf8");
    const bytes = Buffer.allocUnsafe(MSG_ID_HEADER_START.length + valueLength + HEADER_END.length);
    MSG_ID_HEADER_START.copy(bytes, 0);
    bytes.write(this.#value, MSG_ID_HEADER_START.length, valueLength, "utf8");
    HEADER_END.copy(bytes, MSG_ID_HEADER_START.length + valueLength);
    return bytes;
  }
}

/**
 * A message id whose header block is encoded already (its encode(), as MsgIdHeader's): sent as
 * is, without a MsgIdHeader or an id string per message. toString() is the id.
 */
export interface EncodedMsgId {
  encode(): Uint8Array;
  toString(): string;
}

/**
 * Message ids made of a fixed start and a varying end (a container's `<host>/<runtime>/<id>/` and
 * each sample's timestamp): the start is checked and encoded once, and each message's header
 * block is its bytes and the end's, which MsgIdHeader would write for the id `start + end`
 * (jetstream-ack-publisher.test.ts compares them). An end MsgIdHeader would trim or refuse gets
 * the id as a string, left to MsgIdHeader.
 */
export class MsgIdStart {
  readonly #start: string;
  /** `NATS/1.0\r\nNats-Msg-Id: ` and the start without its leading white space; undefined when the start holds \r or \n. */
  readonly #header: Buffer | undefined;

  constructor(start: string) {
    this.#start = start;
    if (/[\r\n]/.test(start)) return;
    const trimmed = start.trimStart();
    const header = Buffer.allocUnsafe(MSG_ID_HEADER_START.length + Buffer.byteLength(trimmed, "utf8"));
    MSG_ID_HEADER_START.copy(header, 0);
    header.write(trimmed, MSG_ID_HEADER_START.length, "utf8");
    this.#header = header;
  }

  /** The id `start + end`, encoded when `end` is one MsgIdHeader would send as it is. */
  with(end: string): EncodedMsgId | string {
    const endBytes = this.#header === undefined ? undefined : plainEndBytes(end);
    if (this.#header === undefined || endBytes === undefined) return this.#start + end;
    return new JoinedMsgId(this.#start, this.#header, end, endBytes);
  }
}

/** The last end plainEndBytes() encoded (the ends of many messages in a row are one tick's timestamp). */
let lastEnd = "";
let lastEndBytes: Buffer = Buffer.alloc(0);

/**
 * The end's bytes, if it is not empty and has no \r or \n and no white space at either end:
 * then `(start + end).trim()` is the start without its leading white space, then `end`.
 */
function plainEndBytes(end: string): Buffer | undefined {
  if (end === lastEnd && end !== "") return lastEndBytes;
  if (end === "" || /[\r\n]/.test(end) || end.trim() !== end) return undefined;
  lastEndBytes = Buffer.from(end, "utf8");
  lastEnd = end;
  return lastEndBytes;
}

class JoinedMsgId implements EncodedMsgId {
  readonly #start: string;
  readonly #header: Buffer;
  readonly #end: string;
  readonly #endBytes: Buffer;

  constructor(start: string, header: Buffer, end: string, endBytes: Buffer) {
    this.#start = start;
    this.#header = header;
    this.#end = end;
    this.#endBytes = endBytes;
  }

  encode(): Uint8Array {
    const header = this.#header;
    const end = this.#endBytes;
    const bytes = Buffer.allocUnsafe(header.length + end.length + HEADER_END.length);
    bytes.set(header, 0);
    bytes.set(end, header.length);
    bytes.set(HEADER_END, header.length + end.length);
    return bytes;
  }

  toString(): string {
    return this.#start + this.#end;
  }
}

export class JetStreamAckPublisher implements JetStreamPublisher {
  readonly #nc: AckConnection;
  readonly #prefix: string;
  readonly #subscription: Subscription;
  readonly #pending = new Map<string, Pending>();
  readonly #defaultTimeoutMs: number;
  readonly #clock: AckDeadlineClock;
  /** The one deadline timer, while any publish awaits its acknowledgement; and when it fires. */
  #deadlineTimer: unknown;
  #deadlineTimerAtMs: number | undefined;
  #next = 0;
  #closed = false;
  #connected = true;

  constructor(options: JetStreamAckPublisherOptions) {
    this.#nc = options.nc;
    this.#defaultTimeoutMs = options.defaultTimeoutMs ?? 5000;
    this.#clock = options.clock ?? systemDeadlineClock();
    this.#prefix = createInbox(options.inboxPrefix);
    this.#subscription = this.#nc.subscribe(`${this.#prefix}.*`, {
      callback: (error, msg) => this.#onReply(error, msg),
    });
    void this.#watchConnection();
  }

  /** Publishes awaiting their acknowledgement. */
  get pending(): number {
    return this.#pending.size;
  }

  publish(
    subject: string,
    payload: Uint8Array,
    options: { msgID: string | EncodedMsgId; timeout?: number },
  ): Promise<PubAck> {
    return new Promise<PubAck>((resolve, reject) => {
      this.send(subject, payload, options, (error, ack) => {
        if (error === undefined && ack !== undefined) resolve(ack);
        else reject(error ?? new InvalidAckError("no acknowledgement"));
      });
    });
  }

  /**
   * publish() without its promise: `settled` is called once, with the acknowledgement or the
   * error publish() would reject with, and never before send() has returned. The publish queue
   * sends every sample this way: a promise, its executor and its reaction jobs per message were a
   * measurable part of what a sample allocates.
   */
  send(
    subject: string,
    payload: Uint8Array,
    options: { msgID: string | EncodedMsgId; timeout?: number },
    settled: AckCallback,
  ): void {
    if (this.#closed) {
      failLater(settled, new PublisherClosedError("the publisher is closed"));
      return;
    }
    if (!this.#connected) {
      failLater(settled, new DisconnectedError("not connected to NATS"));
      return;
    }
    let header: EncodedMsgId;
    try {
      header = typeof options.msgID === "string" ? new MsgIdHeader(options.msgID) : options.msgID;
    } catch (error) {
      failLater(settled, asError(error));
      return;
    }
    const token = (this.#next++).toString(36);
    const deadlineMs = this.#clock.now() + (options.timeout ?? this.#defaultTimeoutMs);
    this.#pending.set(token, { settled, deadlineMs });
    try {
      // The client reads nothing of a headers object but encode() (see MsgIdHeader).
      this.#nc.publish(subject, payload, {
        reply: `${this.#prefix}.${token}`,
        headers: header as unknown as MsgHdrs,
      });
    } catch (error) {
      this.#pending.delete(token);
      this.#settled();
      failLater(settled, asError(error));
      return;
    }
    // Publishes mostly share one timeout, so a later one rarely moves the earliest deadline.
    if (this.#deadlineTimerAtMs === undefined || deadlineMs < this.#deadlineTimerAtMs) {
      this.#armDeadlineTimer(deadlineMs);
    }
  }

  /** Fails every publish still waiting and stops listening; later publishes reject at once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscription.unsubscribe();
    failAll(this.#pending, new PublisherClosedError("the publisher was closed"));
    this.#settled();
  }

  async #watchConnection(): Promise<void> {
    // Ends when the connection closes for good.
    for await (const status of this.#nc.status()) {
      if (status.type === "reconnect") this.#connected = true;
      if (status.type !== "disconnect") continue;
      this.#connected = false;
      failAll(
        this.#pending,
        new DisconnectedError("the connection to NATS dropped before the acknowledgement"),
      );
      this.#settled();
    }
  }

  #onReply(error: Error | null, msg: Msg): void {
    if (error !== null) {
      // The inbox subscription itself failed (a permission error): no acknowledgement will come.
      failAll(this.#pending, error);
      this.#settled();
      return;
    }
    const token = msg.subject.slice(this.#prefix.length + 1);
    const pending = this.#pending.get(token);
    // An acknowledgement after its publish timed out: the message is stored, and its retry
    // (same message id) will be acknowledged as a duplicate.
    if (pending === undefined) return;
    this.#pending.delete(token);
    this.#settled();
    const ack = parseAck(msg);
    if (ack instanceof Error) pending.settled(ack);
    else pending.settled(undefined, ack);
  }

  #armDeadlineTimer(deadlineMs: number): void {
    if (this.#deadlineTimerAtMs !== undefined) this.#clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimerAtMs = deadlineMs;
    this.#deadlineTimer = this.#clock.setTimeout(
      () => this.#expire(),
      Math.max(0, deadlineMs - this.#clock.now()),
    );
  }

  /** A publish settled: with none left waiting, the deadline timer has nothing to do. */
  #settled(): void {
    if (this.#pending.size > 0 || this.#deadlineTimerAtMs === undefined) return;
    this.#clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimerAtMs = undefined;
  }

  /** Fails every publish past its deadline, and arms the timer for the earliest one left. */
  #expire(): void {
    this.#deadlineTimerAtMs = undefined;
    const nowMs = this.#clock.now();
    let earliestMs = Number.POSITIVE_INFINITY;
    for (const [token, pending] of this.#pending) {
      if (pending.deadlineMs > nowMs) {
        earliestMs = Math.min(earliestMs, pending.deadlineMs);
        continue;
      }
      this.#pending.delete(token);
      pending.settled(new AckTimeoutError("no acknowledgement from JetStream in time"));
    }
    if (earliestMs !== Number.POSITIVE_INFINITY) this.#armDeadlineTimer(earliestMs);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Reports a publish that failed before it was sent, after the caller's send() has returned (as
 * a rejected promise would): a caller that sends from a loop, as the publish queue does, must not
 * see the failure inside that loop.
 */
function failLater(settled: AckCallback, error: Error): void {
  queueMicrotask(() => settled(error));
}

/** Fails every publish awaiting its acknowledgement, the map emptied first (a callback may publish again). */
function failAll(pending: Map<string, Pending>, error: Error): void {
  const failed = [...pending.values()];
  pending.clear();
  for (const { settled } of failed) settled(error);
}

/** A PubAck, or the error the reply stands for. */
export function parseAck(msg: { data: Uint8Array; headers?: MsgHdrs | undefined }): PubAck | Error {
  if (msg.headers?.code === 503) return new NoStreamError("no JetStream stream listens on the subject");
  const plain = plainPubAck(msg.data);
  if (plain !== undefined) return plain;
  if (msg.data.length === 0) {
    const status = msg.headers?.code ?? 0;
    return new InvalidAckError(`empty reply${status === 0 ? "" : ` with status ${status}`}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(msg.data));
  } catch {
    return new InvalidAckError("the reply is not JSON");
  }
  if (typeof body !== "object" || body === null) return new InvalidAckError("the reply is not an object");
  const record = body as Record<string, unknown>;
  const refusal = record.error;
  if (typeof refusal === "object" && refusal !== null) {
    const { code, err_code: errCode, description } = refusal as Record<string, unknown>;
    return new StreamRefusedError(
      typeof description === "string" ? description : "the stream refused the message",
      typeof code === "number" ? code : 0,
      typeof errCode === "number" ? errCode : 0,
    );
  }
  if (typeof record.stream !== "string" || record.stream === "" || typeof record.seq !== "number") {
    return new InvalidAckError("the reply is not a PubAck");
  }
  return { stream: record.stream, seq: record.seq, duplicate: record.duplicate === true };
}

// What JetStream answers a publish with, byte by byte (nats-server formats it itself):
// `{"stream":"<name>", "seq":<n>}`, with `,"duplicate": true` before the brace for a message id
// it had stored already; read here with or without the space after a comma or colon.
const PUBACK_START = Buffer.from('{"stream":"', "latin1");
const PUBACK_SEQ = Buffer.from('"seq":', "latin1");
const PUBACK_DUPLICATE = Buffer.from(',"duplicate":', "latin1");
const PUBACK_TRUE = Buffer.from("true}", "latin1");
const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const COMMA = 0x2c;
const SPACE = 0x20;
const CLOSE = 0x7d;
/** Digits of a sequence number read here; longer ones (past 2^53 at 16) are left to JSON.parse. */
const SEQ_DIGITS_MAX = 15;

/** The stream name of the last plain PubAck, as bytes and as the string JSON.parse made of them. */
let lastStreamBytes: Buffer = Buffer.alloc(0);
let lastStream = "";

/** Where `expected` ends if `data` holds it at `at`; -1 if not. */
function matchAt(data: Uint8Array, at: number, expected: Uint8Array): number {
  if (at + expected.length > data.length) return -1;
  for (let index = 0; index < expected.length; index++) {
    if (data[at + index] !== expected[index]) return -1;
  }
  return at + expected.length;
}

/** Past one optional space. */
function skipSpace(data: Uint8Array, at: number): number {
  return data[at] === SPACE ? at + 1 : at;
}

/**
 * The PubAck of a reply that is exactly JetStream's usual answer, read from its bytes: what
 * JSON.parse would make of it, without the reply's text, the parsed object and, while the stream
 * is the last one's, its name's string (every acknowledgement of a collector's tick names the
 * same stream). Undefined for any other reply (another key, an escape in the name, a refusal),
 * which parseAck reads the general way.
 */
function plainPubAck(data: Uint8Array): PubAck | undefined {
  const nameStart = matchAt(data, 0, PUBACK_START);
  if (nameStart < 0) return undefined;
  let nameEnd = nameStart;
  while (nameEnd < data.length) {
    const byte = data[nameEnd] as number;
    if (byte === QUOTE) break;
    // An escape, or a control character JSON does not allow in a string.
    if (byte === BACKSLASH || byte < 0x20) return undefined;
    nameEnd++;
  }
  if (nameEnd === nameStart || data[nameEnd + 1] !== COMMA) return undefined;
  const seqStart = matchAt(data, skipSpace(data, nameEnd + 2), PUBACK_SEQ);
  if (seqStart < 0) return undefined;
  let seqEnd = seqStart;
  let seq = 0;
  while (seqEnd < data.length && (data[seqEnd] as number) >= 0x30 && (data[seqEnd] as number) <= 0x39) {
    seq = seq * 10 + ((data[seqEnd] as number) - 0x30);
    seqEnd++;
  }
  const digits = seqEnd - seqStart;
  // JSON has no leading zeros (a lone 0 is fine).
  if (digits === 0 || digits > SEQ_DIGITS_MAX || (digits > 1 && data[seqStart] === 0x30)) return undefined;
  let duplicate: boolean;
  if (seqEnd === data.length - 1 && data[seqEnd] === CLOSE) {
    duplicate = false;
  } else {
    const value = matchAt(data, seqEnd, PUBACK_DUPLICATE);
    if (value < 0 || matchAt(data, skipSpace(data, value), PUBACK_TRUE) !== data.length) return undefined;
    duplicate = true;
  }
  return { stream: streamName(data, nameStart, nameEnd), seq, duplicate };
}

/** The name's string: the last one's while the bytes are the same. */
function streamName(data: Uint8Array, start: number, end: number): string {
  const length = end - start;
  let same = lastStreamBytes.length === length;
  for (let index = 0; same && index < length; index++) same = lastStreamBytes[index] === data[start + index];
  if (!same) {
    lastStreamBytes = Buffer.from(data.subarray(start, end));
    lastStream = decoder.decode(lastStreamBytes);
  }
  return lastStream;
}
