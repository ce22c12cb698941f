// GET /api/v1/stream: stats, host stats, events and alerts as Server-Sent Events, resumable.
//
// - `event:` is the kind (stats, host, events, alerts), `data:` the bus message as published,
//   `id:` the resume cursor; a first `ready` event carries the starting cursor.
// - Reconnecting with `Last-Event-ID` (or `?last_event_id=`) resumes every kind right after the
//   last event received. If the bus has meanwhile dropped messages for age, a `gap` event says so.
// - A comment line every heartbeat interval keeps proxies from closing an idle stream.
// - A client that falls too far behind gets a final `cutoff` event with its resume cursor and is
//   disconnected, so it never holds memory or slows anyone else.
import type { Logger } from "@crowsnest/shared";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { errorEnvelope } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { textParam } from "../http/params.ts";
import { formatCursor, LIVE_KINDS, type LiveCursor, type LiveKind, parseCursor } from "./live-feed.ts";
import type { LiveHub } from "./live-hub.ts";

export interface LiveOptions {
  logger: Logger;
  heartbeatMs: number;
  /** Events a client may fall behind by before it is cut off. */
  maxBacklog: number;
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
    400: {
      description: "A parameter is invalid",
      content: { "application/json": { schema: errorEnvelope } },
    },
    503: {
      description: "The bus is unreachable or too many streams are open",
      content: { "application/json": { schema: errorEnvelope } },
    },
  },
});

export function liveRoutes(hub: LiveHub, options: LiveOptions): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });
  app.openapi(stream, async (c) => {
    const query = c.req.valid("query");
    const headers = c.req.valid("header");
    const kinds = query.kinds ?? [...LIVE_KINDS];
    const resume = query.last_event_id ?? headers["last-event-id"] ?? {};
    const feed = await hub.open({ kinds, host: query.host, container: query.container }, resume);
    return streamSSE(
      c,
      async (sse) => {
        const cursor: LiveCursor = { ...feed.start };
        const heartbeat = setInterval(() => {
          void sse.write(": keep-alive\n\n").catch(() => undefined);
        }, options.heartbeatMs);
        sse.onAbort(() => {
          void feed.close();
        });
        try {
          await sse.writeSSE({
            event: "ready",
            id: formatCursor(cursor),
            data: JSON.stringify({ kinds, cursor }),
          });
          for await (const item of feed) {
            if (feed.backlog() > options.maxBacklog) {
              const resumeWith = formatCursor(cursor);
              await sse.writeSSE({
                event: "cutoff",
                id: resumeWith,
                data: JSON.stringify({
                  reason: "slow_client",
                  max_backlog: options.maxBacklog,
                  resume_with: resumeWith,
                }),
              });
              break;
            }
            if (item.type === "gap") {
              await sse.writeSSE({
                event: "gap",
                data: JSON.stringify({
                  kind: item.kind,
                  missed_from_seq: item.missedFromSeq,
                  resumed_at_seq: item.resumedAtSeq,
                }),
              });
              continue;
            }
            cursor[item.kind] = item.seq;
            await sse.writeSSE({
              event: item.kind,
              id: formatCursor(cursor),
              data: JSON.stringify(item.payload),
            });
          }
        } finally {
          clearInterval(heartbeat);
          await feed.close();
        }
      },
      async (error, sse) => {
        options.logger.error({ err: error, request_id: c.get("requestId") }, "live stream failed");
        await sse
          .writeSSE({ event: "error", data: JSON.stringify({ message: "stream failed" }) })
          .catch(() => undefined);
      },
    );
  });
  return app;
}
