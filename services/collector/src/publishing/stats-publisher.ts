// Hands stats samples to the publish queue: validates each against the contract and queues it on
// its subject with a message id that makes a republished sample count once. The queue sends it in
// the background and keeps it through a bus outage, so sampling never waits for the bus.
//
// Validation takes the shared quick check (isStatsMessage) where it recognises the message
// (every sample this collector builds), and the contract's schema for anything else, which also
// words the reason a message is refused. A message the quick check accepts is written as JSON
// by StatsJsonWriter (the same bytes as JSON.stringify, without its string).
import { checkedEncoders, isStatsMessage, type StatsMessage, type Subjects } from "@crowsnest/shared/agent";
import { type EncodedMsgId, MsgIdStart, type OutgoingMessage } from "@crowsnest/shared/publishing";
import type { PublishResult, StatsSink } from "../core/stats-sink.ts";
import { StatsJsonWriter } from "./stats-json.ts";

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

/** Subjects made for this many containers are kept; beyond it the cache starts over. */
const SUBJECT_CACHE_MAX = 10_000;

/** Every queued sample's answer, one object (its fields are read-only) instead of one per sample. */
const QUEUED: PublishResult = { status: "queued" };

export class StatsPublisher implements StatsSink {
  readonly #queue: MessageQueue;
  readonly #subjects: Subjects;
  readonly #json = new StatsJsonWriter();
  /**
   * Each container's subject by name, for the host and runtime of the samples: the same every
   * tick, so it is encoded once instead of for every sample (three subject tokens checked
   * character by character). A collector publishes for one host and runtime; another one starts
   * the cache over.
   */
  readonly #subjectByName = new Map<string, string>();
  /**
   * Each container's start of its message id (`<host>/<runtime>/<id>/`), checked and encoded
   * once: a sample's id header is those bytes and its timestamp's, without an id string.
   */
  readonly #msgIdStartById = new Map<string, MsgIdStart>();
  #subjectHost: string | undefined;
  #subjectRuntime: string | undefined;

  constructor(options: StatsPublisherOptions) {
    this.#queue = options.queue;
    this.#subjects = options.subjects;
  }

  publish(message: StatsMessage): PublishResult {
    let payload: Uint8Array;
    if (isStatsMessage(message)) {
      payload = this.#json.encode(message) ?? Buffer.from(JSON.stringify(message));
    } else {
      const encoded = checkedEncoders.stats.encode(message);
      if (!encoded.ok) return { status: "invalid", detail: encoded.detail };
      payload = encoded.data;
    }
    this.#queue.enqueue({
      subject: this.#subject(message),
      payload,
      msgID: this.#msgID(message),
    });
    return QUEUED;
  }

  /**
   * `<host>/<runtime>/<container id>/<ts>`: one sample of one container, whatever its name;
   * encoded from the container's start of it, kept, and the timestamp.
   */
  #msgID(message: StatsMessage): EncodedMsgId | string {
    this.#forHostAndRuntime(message);
    const id = message.container.external_id;
    let start = this.#msgIdStartById.get(id);
    if (start === undefined) {
      // Removed containers leave their entries behind: bounded by starting over.
      if (this.#msgIdStartById.size >= SUBJECT_CACHE_MAX) this.#msgIdStartById.clear();
      start = new MsgIdStart(`${message.host}/${message.runtime}/${id}/`);
      this.#msgIdStartById.set(id, start);
    }
    return start.with(message.ts);
  }

  /** The caches hold one host's and runtime's subjects and ids; another one starts them over. */
  #forHostAndRuntime(message: StatsMessage): void {
    const { host, runtime } = message;
    if (host === this.#subjectHost && runtime === this.#subjectRuntime) return;
    this.#subjectByName.clear();
    this.#msgIdStartById.clear();
    this.#subjectHost = host;
    this.#subjectRuntime = runtime;
  }

  #subject(message: StatsMessage): string {
    this.#forHostAndRuntime(message);
    const { host, runtime } = message;
    const name = message.container.name;
    let subject = this.#subjectByName.get(name);
    if (subject === undefined) {
      // Renamed and removed containers leave their entries behind: bounded by starting over.
      if (this.#subjectByName.size >= SUBJECT_CACHE_MAX) this.#subjectByName.clear();
      subject = this.#subjects.stats(host, runtime, name);
      this.#subjectByName.set(name, subject);
    }
    return subject;
  }

  batchComplete(): void {
    this.#queue.sendNow?.();
  }
}
