// The live feed behind GET /api/v1/stream: one ordered JetStream consumer per kind of
// message a client asked for, starting right after the client's resume cursor (or at the
// stream's end for a new client), merged into one sequence of events.
//
// The cursor is the stream sequence reached for each kind. Every event carries the whole
// cursor as its SSE id, so a client that reconnects with Last-Event-ID resumes every kind
// exactly after what it last received: no gap, no repeat.
import {
  codecs,
  encodeSubjectToken,
  type MessageCodec,
  type StreamRole,
  type Subjects,
  streamName,
} from "@crowsnest/shared";
import {
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";

export const LIVE_KINDS = ["stats", "host", "events", "alerts"] as const;
export type LiveKind = (typeof LIVE_KINDS)[number];
export type LiveCursor = Partial<Record<LiveKind, number>>;

export interface LiveFilters {
  kinds: readonly LiveKind[];
  host: string | undefined;
  /** Container name: matched in the subject for stats and alerts, in the payload for events. */
  container: string | undefined;
}

export type LiveItem =
  /** `data` is the message as JSON text, exactly what the client receives; `bytes` its UTF-8 size. */
  | { type: "message"; kind: LiveKind; seq: number; data: string; bytes: number }
  /** Messages the client missed were removed from the bus (older than its retention) before it resumed. */
  | { type: "gap"; kind: LiveKind; missedFromSeq: number; resumedAtSeq: number };

/** How far behind a client is: events and bytes received for it and not yet taken by its socket. */
export interface Backlog {
  events: number;
  bytes: number;
}

export interface LiveFeedLimits {
  /** Most events a client may be behind by, here and downstream together. */
  maxEvents: number;
  /** Most bytes of events a client may be behind by, here and downstream together. */
  maxBytes: number;
  /** What was taken from the feed and has not left the process yet (the SSE writer, the socket's buffer). */
  downstream(): Backlog;
}

/** The subset of the bus the feed needs. */
export interface LiveBus {
  js: Pick<JetStreamClient, "consumers">;
  jsm: Pick<JetStreamManager, "streams">;
  subjects: Subjects;
}

const STREAM_OF: Record<LiveKind, StreamRole> = {
  stats: "telemetry",
  host: "telemetry",
  events: "events",
  alerts: "alerts",
};

const CODEC_OF: Record<LiveKind, MessageCodec<never, unknown>> = {
  stats: codecs.stats,
  host: codecs.hostStats,
  events: codecs.event,
  alerts: codecs.alertTransition,
};

function filterSubject(subjects: Subjects, kind: LiveKind, filters: LiveFilters): string {
  const host = filters.host ?? { any: true as const };
  const container = filters.container ?? { any: true as const };
  switch (kind) {
    case "stats":
      return subjects.stats(host, { any: true }, container);
    case "host":
      return subjects.hostStats(host);
    case "alerts":
      return subjects.alert(host, container);
    case "events":
      return filters.host === undefined
        ? subjects.all("events")
        : `${subjects.root}.events.${encodeSubjectToken(filters.host)}.>`;
  }
}

function matchesPayload(kind: LiveKind, payload: unknown, filters: LiveFilters): boolean {
  if (kind !== "events" || filters.container === undefined) return true;
  return (payload as { actor: { name: string } }).actor.name === filters.container;
}

export interface LiveFeed extends AsyncIterable<LiveItem> {
  /** Where each kind starts: the client's cursor, or the stream's current end. */
  readonly start: LiveCursor;
  /**
   * Resolves with the backlog when the client fell further behind than the limits allow. The
   * feed has then stopped taking messages, deleted its consumers and dropped what waited: what
   * a client is behind by never grows past the limits (plus the one message that crossed them).
   */
  readonly overflowed: Promise<Backlog>;
  /** Stops taking messages and deletes the consumers from the server (idempotent). */
  close(): Promise<void>;
}

interface Source {
  kind: LiveKind;
  consumer: Consumer;
  messages?: ConsumerMessages;
}

/**
 * Ends a source: stops its pull and deletes its consumer on the server, which would otherwise
 * stay there until its inactivity threshold (5 minutes) passed.
 */
async function endSource(source: Source): Promise<void> {
  await source.messages?.close();
  await source.consumer.delete().catch(() => {
    // Gone already (or the bus is down: the server removes it after its inactivity threshold).
  });
}

export async function openLiveFeed(
  bus: LiveBus,
  filters: LiveFilters,
  resume: LiveCursor,
  limits: LiveFeedLimits,
): Promise<LiveFeed> {
  const start: LiveCursor = {};
  const sources: Source[] = [];
  const queue: LiveItem[] = [];
  let queuedBytes = 0;
  try {
    for (const kind of filters.kinds) {
      const stream = streamName(bus.subjects, STREAM_OF[kind]);
      const info = await bus.jsm.streams.info(stream);
      const resumeAfter = resume[kind];
      const from = resumeAfter === undefined ? info.state.last_seq : resumeAfter;
      start[kind] = from;
      if (resumeAfter !== undefined && resumeAfter + 1 < info.state.first_seq) {
        queue.push({ type: "gap", kind, missedFromSeq: resumeAfter + 1, resumedAtSeq: info.state.first_seq });
      }
      const consumer = await bus.js.consumers.get(stream, {
        filter_subjects: filterSubject(bus.subjects, kind, filters),
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: from + 1,
      });
      const source: Source = { kind, consumer };
      sources.push(source);
      source.messages = await consumer.consume();
    }
  } catch (error) {
    // Whatever was created for the kinds before the failure goes too.
    await Promise.allSettled(sources.map(endSource));
    throw error;
  }

  let wake: (() => void) | undefined;
  let closed: Promise<void> | undefined;
  let reportOverflow: (backlog: Backlog) => void = () => undefined;
  const overflowed = new Promise<Backlog>((resolve) => {
    reportOverflow = resolve;
  });
  const close = (): Promise<void> => {
    closed ??= (async () => {
      queue.length = 0;
      queuedBytes = 0;
      wake?.();
      await Promise.allSettled(sources.map(endSource));
      await Promise.allSettled(pumps);
    })();
    return closed;
  };
  // The bound is checked where messages arrive, not where the client takes them: a client whose
  // socket is full takes nothing, and would never get to check it.
  const overLimits = (): Backlog | undefined => {
    const downstream = limits.downstream();
    const backlog = { events: queue.length + downstream.events, bytes: queuedBytes + downstream.bytes };
    return backlog.events > limits.maxEvents || backlog.bytes > limits.maxBytes ? backlog : undefined;
  };
  const pumps = sources.map(async ({ kind, messages }) => {
    if (!messages) return;
    for await (const message of messages) {
      if (closed) break;
      const decoded = CODEC_OF[kind].decode(message.data);
      // What fails validation is never forwarded; the store dead-letters it.
      if (!decoded.ok || !matchesPayload(kind, decoded.value, filters)) continue;
      // Kept as the text the client will receive, so its size is what the bound counts.
      const data = JSON.stringify(decoded.value);
      const bytes = Buffer.byteLength(data);
      queue.push({ type: "message", kind, seq: message.seq, data, bytes });
      queuedBytes += bytes;
      const over = overLimits();
      if (over) {
        reportOverflow(over);
        void close();
        break;
      }
      wake?.();
    }
  });

  return {
    start,
    overflowed,
    close,
    async *[Symbol.asyncIterator]() {
      while (!closed) {
        const item = queue.shift();
        if (item) {
          if (item.type === "message") queuedBytes -= item.bytes;
          yield item;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    },
  };
}

/** Cursor ↔ SSE id: `stats.123-host.120-events.45-alerts.6` (only the kinds streamed). */
export function formatCursor(cursor: LiveCursor): string {
  return LIVE_KINDS.filter((kind) => cursor[kind] !== undefined)
    .map((kind) => `${kind}.${cursor[kind]}`)
    .join("-");
}

export function parseCursor(raw: string): LiveCursor | undefined {
  const cursor: LiveCursor = {};
  for (const part of raw.split("-")) {
    const match = /^(stats|host|events|alerts)\.(\d{1,15})$/.exec(part);
    if (!match?.[1] || !match[2]) return undefined;
    cursor[match[1] as LiveKind] = Number(match[2]);
  }
  return cursor;
}
