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
  | { type: "message"; kind: LiveKind; seq: number; payload: unknown }
  /** Messages the client missed were removed from the bus (older than its retention) before it resumed. */
  | { type: "gap"; kind: LiveKind; missedFromSeq: number; resumedAtSeq: number };

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
  /** Items received from the bus and not yet taken by the client: grows while a client is slow. */
  backlog(): number;
  close(): Promise<void>;
}

export async function openLiveFeed(
  bus: LiveBus,
  filters: LiveFilters,
  resume: LiveCursor,
): Promise<LiveFeed> {
  const start: LiveCursor = {};
  const sources: {
    kind: LiveKind;
    messages: ConsumerMessages;
  }[] = [];
  const pending: LiveItem[] = [];
  for (const kind of filters.kinds) {
    const stream = streamName(bus.subjects, STREAM_OF[kind]);
    const info = await bus.jsm.streams.info(stream);
    const resumeAfter = resume[kind];
    const from = resumeAfter === undefined ? info.state.last_seq : resumeAfter;
    start[kind] = from;
    if (resumeAfter !== undefined && resumeAfter + 1 < info.state.first_seq) {
      pending.push({ type: "gap", kind, missedFromSeq: resumeAfter + 1, resumedAtSeq: info.state.first_seq });
    }
    const consumer = await bus.js.consumers.get(stream, {
      filter_subjects: filterSubject(bus.subjects, kind, filters),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from + 1,
    });
    sources.push({ kind, messages: await consumer.consume() });
  }

  // Merge: each source pushes into one queue that the iterator drains.
  const queue: LiveItem[] = [...pending];
  let wake: (() => void) | undefined;
  let closed = false;
  const pumps = sources.map(async ({ kind, messages }) => {
    for await (const message of messages) {
      const decoded = CODEC_OF[kind].decode(message.data);
      // What fails validation is never forwarded; the store dead-letters it.
      if (!decoded.ok || !matchesPayload(kind, decoded.value, filters)) continue;
      queue.push({ type: "message", kind, seq: message.seq, payload: decoded.value });
      wake?.();
    }
  });

  return {
    start,
    backlog: () => queue.length,
    async close() {
      closed = true;
      await Promise.all(sources.map(({ messages }) => messages.close()));
      wake?.();
      await Promise.allSettled(pumps);
    },
    async *[Symbol.asyncIterator]() {
      while (!closed) {
        const item = queue.shift();
        if (item) {
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
