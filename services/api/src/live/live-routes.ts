// GET /api/v1/stream: stats, host stats, events and alerts as Server-Sent Events, resumable.
//
// - `event:` is the kind (stats, host, events, alerts), `data:` the bus message as published,
//   `id:` the resume cursor; a first `ready` event carries the starting cursor.
// - Reconnecting with `Last-Event-ID` (or `?last_event_id=`) resumes every kind right after the
//   last event received. If the bus has meanwhile dropped messages for age, a `gap` event says so.
// - A comment line every heartbeat interval keeps proxies from closing an idle stream.
// - A client that falls too far behind (more than maxBacklog events or maxBacklogBytes bytes,
//   counting what its socket has not sent), or takes nothing for stallTimeoutMs while events
//   wait, gets a final `cutoff` event with its resume cursor and is disconnected; if it does not
//   take even that within stallTimeoutMs, its connection is destroyed. See docs/api.md.
import type { Logger } from "@crowsnest/shared";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { textParam } from "../http/params.ts";
import {
  type Backlog,
  formatCursor,
  LIVE_KINDS,
  type LiveCursor,
  type LiveKind,
  parseCursor,
} from "./live-feed.ts";
import type { LiveHub } from "./live-hub.ts";
import { StreamOutput } from "./stream-output.ts";

export interface LiveOptions {
  logger: Logger;
  heartbeatMs: number;
  /** Events a client may fall behind by before it is cut off. */
  maxBacklog: number;
  /** Bytes of events a client may fall behind by (counting its socket's write buffer) before it is cut off. */
  maxBacklogBytes: number;
  /** A client that takes nothing for this long while events wait is cut off; also the time it gets to take the `cutoff`. */
  stallTimeoutMs: number;
}

const kindsParam = z
  .string()
  .transform((raw, ctx): LiveKind[] => {
    const kinds = raw.split(",").map((kind) => kind.trim());
    const unknown = kinds.filter((kind) => !(LIVE_KINDS as readonly string[]).includes(kind));
    if (unknown.length > 0 || kinds.length === 0) {
      ctx.addIssue({
        code: "custom",
        message: `must be a comma-separated subset of ${LIVE_KINDS.join(", ")}`,
      });
      return z.NEVER;
    }
    return [...new Set(kinds as LiveKind[])];
  })
  .optional()
  .openapi({
    type: "string",
    example: "stats,events",
    description: `Any of ${LIVE_KINDS.join(", ")}; default all.`,
  });

const cursorParam = z
  .string()
  .max(200)
  .transform((raw, ctx): LiveCursor => {
    const cursor = parseCursor(raw);
    if (!cursor) {
      ctx.addIssue({ code: "custom", message: "is not a cursor this api issued" });
      return z.NEVER;
    }
    return cursor;
  });

const stream = createRoute({
  method: "get",
  path: "/stream",
  summary: "Live stats, host stats, events and alerts as Server-Sent Events, resumable with Last-Event-ID",
  request: {
    query: z.object({
      kinds: kindsParam,
      host: textParam(253).optional(),
      container: textParam(512).optional().openapi({ description: "Container name." }),
      last_event_id: cursorParam
        .optional()
        .openapi({ type: "string", description: "Instead of the Last-Event-ID header." }),
    }),
    headers: z.object({ "last-event-id": cursorParam.optional().openapi({ type: "string" }) }),
  },
  responses: {
    200: { description: "An event stream", content: { "text/event-stream": { schema: z.string() } } },
    400: errorDoc("A parameter is invalid"),
    503: errorDoc("The bus is unreachable or too many streams are open"),
  },
});

export function liveRoutes(hub: LiveHub, options: LiveOptions): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });
  app.openapi(stream, async (c) => {
    const query = c.req.valid("query");
    const headers = c.req.valid("header");
    const kinds = query.kinds ?? [...LIVE_KINDS];
    const resume = query.last_event_id ?? headers["last-event-id"] ?? {};
    // The feed checks its bound against what is downstream of it, which exists once the stream does.
    let output: StreamOutput | undefined;
    const feed = await hub.open({ kinds, host: query.host, container: query.container }, resume, {
      maxEvents: options.maxBacklog,
      maxBytes: options.maxBacklogBytes,
      downstream: () => output?.backlog() ?? { events: 0, bytes: 0 },
    });
    const requestId = c.get("requestId");
    return streamSSE(
      c,
      async (sse) => {
        const cursor: LiveCursor = { ...feed.start };
        let cutOff = false;
        const cutOffClient = (reason: "slow_client" | "stalled", backlog: Backlog) => {
          if (cutOff) return;
          cutOff = true;
          const resumeWith = formatCursor(cursor);
          options.logger.info(
            { request_id: requestId, reason, behind_events: backlog.events, behind_bytes: backlog.bytes },
            "live stream cut off",
          );
          // Queued behind what was written, so resume_with is right after the last event the
          // client can receive; if its socket never takes it, end() disconnects it anyway.
          void stream.writeEvent(
            "cutoff",
            JSON.stringify({
              reason,
              max_backlog: options.maxBacklog,
              max_backlog_bytes: options.maxBacklogBytes,
              stall_timeout_ms: options.stallTimeoutMs,
              resume_with: resumeWith,
            }),
            resumeWith,
          );
          void feed.close();
          void stream.end(options.stallTimeoutMs);
        };
        const stream = new StreamOutput({
          sse,
          outgoing: c.env?.outgoing,
          stallTimeoutMs: options.stallTimeoutMs,
          onStall: () => cutOffClient("stalled", stream.backlog()),
        });
        output = stream;
        void feed.overflowed.then((backlog) => cutOffClient("slow_client", backlog));
        const heartbeat = setInterval(() => {
          // A stream with a write waiting needs no keep-alive, and must not queue more.
          if (!stream.waiting) void stream.writeComment("keep-alive");
        }, options.heartbeatMs);
        sse.onAbort(() => {
          void feed.close();
        });
        try {
          await stream.writeEvent("ready", JSON.stringify({ kinds, cursor }), formatCursor(cursor));
          for await (const item of feed) {
            if (item.type === "gap") {
              await stream.writeEvent(
                "gap",
                JSON.stringify({
                  kind: item.kind,
                  missed_from_seq: item.missedFromSeq,
                  resumed_at_seq: item.resumedAtSeq,
                }),
              );
              continue;
            }
            cursor[item.kind] = item.seq;
            await stream.writeEvent(item.kind, item.data, formatCursor(cursor));
          }
        } finally {
          clearInterval(heartbeat);
          await feed.close();
          // After a cutoff, a client disconnect or shutdown alike: a client that does not take
          // the rest in time is disconnected, so no stream outlives its feed for long.
          await stream.end(options.stallTimeoutMs);
        }
      },
      async (error, sse) => {
        options.logger.error({ err: error, request_id: requestId }, "live stream failed");
        await sse
          .writeSSE({ event: "error", data: JSON.stringify({ message: "stream failed" }) })
          .catch(() => undefined);
      },
    );
  });
  return app;
}
