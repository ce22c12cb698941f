// /api/v1/events: lifecycle events of every container, newest first, filtered and paged.
import { eventKind } from "@crowsnest/shared";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  containerRefQueryParam,
  containerRefResponses,
  resolveContainerId,
} from "../containers/container-ref.ts";
import { errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { textParam } from "../http/params.ts";
import { eventFilterQuery, eventPageJson, queryEventPage } from "./event-query.ts";

const listAllEvents = createRoute({
  method: "get",
  path: "/events",
  summary: "Lifecycle events of every container, newest first",
  request: {
    query: z.object({
      host: textParam(253).optional(),
      kind: eventKind.optional(),
      container_id: containerRefQueryParam.optional(),
      ...eventFilterQuery,
    }),
  },
  responses: {
    200: { description: "One page of events", content: { "application/json": { schema: eventPageJson } } },
    400: errorDoc("A parameter is invalid"),
    ...containerRefResponses,
  },
});

export function eventRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });
  app.openapi(listAllEvents, async (c) => {
    const query = c.req.valid("query");
    const containerId =
      query.container_id === undefined
        ? undefined
        : await resolveContainerId(c.var.db, query.container_id, query.host);
    const page = await queryEventPage(c.var.db, {
      containerId,
      host: query.host,
      kind: query.kind,
      action: query.action,
      from: query.from,
      to: query.to,
      limit: query.limit,
      cursor: query.cursor,
    });
    return c.json(page, 200);
  });
  return app;
}
