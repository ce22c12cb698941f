// GET /api/v1/containers/:id/logs: the container's logs, fetched live from its host's watcher.
import { MAX_LOG_TAIL } from "@crowsnest/shared";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import {
  containerRefPath,
  containerRefQuery,
  containerRefResponses,
  resolveContainerId,
} from "../containers/container-ref.ts";
import { ApiError, errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { booleanParam, timestampParam } from "../http/params.ts";
import type { LogsClient, LogsFailure } from "./watcher-logs-client.ts";

function failureError(failure: LogsFailure): ApiError {
  return new ApiError(failure.code === "bad_request" ? "invalid_request" : failure.code, failure.message);
}

const logLineJson = z
  .object({
    stream: z.enum(["stdout", "stderr", "tty"]),
    ts: z.string().nullable().openapi({ description: "Set when timestamps=true." }),
    text: z.string(),
  })
  .openapi("LogLine");

const getLogs = createRoute({
  method: "get",
  path: "/containers/{id}/logs",
  summary: "The container's recent log lines, in order, from its host's watcher",
  request: {
    params: containerRefPath,
    query: z.object({
      ...containerRefQuery,
      tail: z
        .string()
        .regex(/^[0-9]{1,5}$/, `must be an integer from 0 to ${MAX_LOG_TAIL}`)
        .transform(Number)
        .refine((n) => n <= MAX_LOG_TAIL, `must be an integer from 0 to ${MAX_LOG_TAIL}`)
        .optional()
        .openapi({ type: "integer", minimum: 0, maximum: MAX_LOG_TAIL, default: 100 }),
      since: timestampParam.optional(),
      until: timestampParam.optional(),
      timestamps: booleanParam.optional().openapi({ type: "boolean", default: false }),
      stream: z.enum(["stdout", "stderr", "both"]).optional().openapi({ default: "both" }),
      previous: booleanParam.optional().openapi({
        type: "boolean",
        default: false,
        description:
          "Kubernetes: the logs of the container's previous (last terminated) instance. Docker keeps no previous instance and ignores it.",
      }),
      follow: booleanParam.optional().openapi({
        type: "boolean",
        default: false,
        description:
          "Stream lines as Server-Sent Events (`line`, then `end` or `error`) until the client leaves.",
      }),
    }),
  },
  responses: {
    200: {
      description: "The lines, oldest first; with follow=true an event stream",
      content: {
        "application/json": {
          schema: z.object({ container_id: z.number().int(), host: z.string(), lines: z.array(logLineJson) }),
        },
        "text/event-stream": { schema: z.string() },
      },
    },
    400: errorDoc("A parameter is invalid"),
    ...containerRefResponses,
    404: errorDoc("No such container, or it no longer exists on its host"),
    501: errorDoc(
      "`logs_unavailable`: the host's runtime keeps no logs Crowsnest can read for this container (containerd without nerdctl's log files; see docs/containerd.md)",
    ),
    503: errorDoc("The host's watcher or container runtime is not answering"),
  },
});

export function logRoutes(logs: LogsClient, options: { heartbeatMs: number }): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });
  app.openapi(getLogs, async (c) => {
    const query = c.req.valid("query");
    const id = await resolveContainerId(c.var.db, c.req.valid("param").id, query.host);
    const container = await c.var.db
      .selectFrom("containers")
      .select(["host", "external_id"])
      .where("id", "=", id)
      .executeTakeFirst();
    if (!container) throw new ApiError("not_found", `no container with id ${id}`);
    const toUtc = (value: string | undefined) => (value === undefined ? null : new Date(value).toISOString());
    const request = {
      v: 1 as const,
      container: container.external_id,
      tail: query.tail ?? 100,
      since: toUtc(query.since),
      until: toUtc(query.until),
      timestamps: query.timestamps ?? false,
      follow: query.follow ?? false,
      stream: query.stream ?? "both",
      ...(query.previous === true ? { previous: true } : {}),
    };
    if (request.follow) {
      const session = await logs.follow(container.host, request);
      if ("ok" in session) throw failureError(session);
      return streamSSE(c, async (sse) => {
        const heartbeat = setInterval(() => {
          void sse.write(": keep-alive\n\n").catch(() => undefined);
        }, options.heartbeatMs);
        sse.onAbort(() => session.close());
        try {
          for await (const item of session) {
            if (item.type === "lines") {
              for (const line of item.lines)
                await sse.writeSSE({ event: "line", data: JSON.stringify(line) });
            } else if (item.type === "end") {
              await sse.writeSSE({ event: "end", data: JSON.stringify({ reason: "done" }) });
            } else {
              const code = item.code === "bad_request" ? "invalid_request" : item.code;
              await sse.writeSSE({ event: "error", data: JSON.stringify({ code, message: item.message }) });
            }
          }
        } finally {
          clearInterval(heartbeat);
          session.close();
        }
      });
    }
    const outcome = await logs.fetch(container.host, request);
    if (!outcome.ok) throw failureError(outcome);
    return c.json({ container_id: id, host: container.host, lines: outcome.lines }, 200);
  });
  return app;
}
