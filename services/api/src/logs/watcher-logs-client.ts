// Asks a host's watcher for a container's logs over `<prefix>.v1.rpc.<host>.logs` and
// reassembles the chunked reply (seq 0..n, the last with done: true). Every way it can go
// wrong comes back as a typed failure: no watcher listening, no answer in time, a reply that
// does not decode, a gap in the chunks, or the watcher's own error.
import { codecs, type LogsReply, type LogsRequest, type Subjects } from "@crowsnest/shared";
import { createInbox, type NatsConnection } from "@nats-io/transport-node";
import {
  createInspectClient,
  type InspectFailure,
  watcherUnavailable,
} from "../inspect/watcher-inspect-client.ts";

export type LogLine = Extract<LogsReply, { ok: true }>["lines"][number];

/**
 * The same failures as an inspection's (the watcher is asked to inspect the container first),
 * and a runtime that keeps no readable logs.
 */
export type LogsFailure = InspectFailure | { ok: false; code: "logs_unavailable"; message: string };

export type LogsOutcome = { ok: true; lines: LogLine[] } | LogsFailure;

export type FollowItem =
  | { type: "lines"; lines: LogLine[] }
  | { type: "end" }
  | ({ type: "error" } & LogsFailure);

/** A follow stream: lines as the container writes them, until it ends, fails, or is closed. */
export interface FollowSession extends AsyncIterable<FollowItem> {
  /** Stops following; the watcher notices at its next probe and stops reading. */
  close(): void;
}

export interface LogsClient {
  fetch(host: string, request: LogsRequest): Promise<LogsOutcome>;
  /** Checks the watcher and the container first, so those failures come back before streaming starts. */
  follow(host: string, request: LogsRequest): Promise<FollowSession | LogsFailure>;
}

/** The subset of a NATS connection this needs. */
export type LogsTransport = Pick<NatsConnection, "requestMany" | "request" | "subscribe" | "publish">;

export function createLogsClient(options: {
  nc: LogsTransport;
  subjects: Subjects;
  timeoutMs: number;
  /** Silence after which a follow stream's watcher counts as gone (it probes every 5 s by default). */
  followSilenceMs: number;
}): LogsClient {
  const { nc, subjects } = options;

  const inspector = createInspectClient({ nc, subjects, timeoutMs: options.timeoutMs });

  /** Asks the watcher about the container: is the watcher there, and does it know the container? */
  async function check(host: string, container: string): Promise<LogsFailure | undefined> {
    const outcome = await inspector.inspect(host, container);
    return outcome.ok ? undefined : outcome;
  }

  return {
    async follow(host, request) {
      const failure = await check(host, request.container);
      if (failure) return failure;
      const encoded = codecs.logsRequest.encode({ ...request, follow: true });
      if (!encoded.ok) return { ok: false, code: "bad_request", message: encoded.detail };
      const inbox = createInbox();
      const subscription = nc.subscribe(inbox);
      nc.publish(subjects.rpc(host, "logs"), encoded.data, { reply: inbox });
      let lastHeardMs = Date.now();
      const silence = setInterval(() => {
        if (Date.now() - lastHeardMs > options.followSilenceMs) subscription.unsubscribe();
      }, 1000);
      let closedByClient = false;
      return {
        close() {
          closedByClient = true;
          clearInterval(silence);
          subscription.unsubscribe();
        },
        async *[Symbol.asyncIterator]() {
          let expectedSeq = 0;
          try {
            for await (const message of subscription) {
              lastHeardMs = Date.now();
              const decoded = codecs.logsReply.decode(message.data);
              if (!decoded.ok) {
                yield {
                  type: "error",
                  ...watcherUnavailable(host, `sent a reply that is not valid: ${decoded.detail}`),
                };
                return;
              }
              const reply = decoded.value;
              if (!reply.ok) {
                const code = reply.error.code === "internal" ? "runtime_unavailable" : reply.error.code;
                yield { type: "error", ok: false, code, message: reply.error.message };
                return;
              }
              if (reply.seq !== expectedSeq) {
                yield {
                  type: "error",
                  ...watcherUnavailable(host, `skipped part ${expectedSeq} of its reply`),
                };
                return;
              }
              expectedSeq += 1;
              if (reply.lines.length > 0) yield { type: "lines", lines: reply.lines };
              if (reply.done) {
                yield { type: "end" };
                return;
              }
            }
            if (!closedByClient) {
              yield {
                type: "error",
                ...watcherUnavailable(host, `went silent for ${options.followSilenceMs} ms`),
              };
            }
          } finally {
            clearInterval(silence);
            subscription.unsubscribe();
          }
        },
      };
    },
    async fetch(host, request) {
      const encoded = codecs.logsRequest.encode(request);
      if (!encoded.ok) return { ok: false, code: "bad_request", message: encoded.detail };
      const unavailable = (why: string): LogsOutcome => watcherUnavailable(host, why);
      let replies: AsyncIterable<{ data: Uint8Array }>;
      try {
        replies = await nc.requestMany(subjects.rpc(host, "logs"), encoded.data, {
          strategy: "timer",
          maxWait: options.timeoutMs,
        });
      } catch {
        return unavailable("is not answering");
      }
      const lines: LogLine[] = [];
      let expectedSeq = 0;
      try {
        for await (const message of replies) {
          const decoded = codecs.logsReply.decode(message.data);
          if (!decoded.ok) return unavailable(`sent a reply that is not valid: ${decoded.detail}`);
          const reply = decoded.value;
          if (!reply.ok) {
            const code = reply.error.code === "internal" ? "runtime_unavailable" : reply.error.code;
            return { ok: false, code, message: reply.error.message };
          }
          if (reply.seq !== expectedSeq) return unavailable(`skipped part ${expectedSeq} of its reply`);
          expectedSeq += 1;
          lines.push(...reply.lines);
          if (reply.done) return { ok: true, lines };
        }
      } catch {
        // No responders arrive as an error while iterating.
        return unavailable("is not running or not connected to NATS");
      }
      return expectedSeq === 0
        ? unavailable(`did not answer within ${options.timeoutMs} ms`)
        : unavailable(`stopped answering after part ${expectedSeq - 1}`);
    },
  };
}
