// /api/v1/containers: list, detail, current sample and lifecycle events.
import { containerState, runtime } from "@crowsnest/shared";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { sql } from "kysely";
import type { ApiDatabase } from "../db/api-database.ts";
import { eventFilterQuery, eventPageJson, queryEventPage } from "../events/event-query.ts";
import { ApiError, errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { labelSelectorParam, matchesLabels } from "../http/label-selector.ts";
import {
  booleanParam,
  cursorParam,
  encodeCursor,
  limitParam,
  textParam,
  timestampParam,
} from "../http/params.ts";
import { containerJson, statsSampleJson, toContainerJson, toStatsSampleJson } from "./container-json.ts";
import {
  containerRefPath,
  containerRefQuery,
  containerRefResponses,
  resolveContainerId,
} from "./container-ref.ts";
import { countRestarts } from "./restart-count.ts";

const DAY_MS = 24 * 3600_000;

const restartsSinceParam = timestampParam.optional().openapi({
  description: "Count restarts from this time (each container's `restarts`); default 24 hours ago.",
});

/** `restarts_since` as a date: the one asked for, or 24 hours ago. */
const restartsSince = (value: string | undefined) =>
  value === undefined ? new Date(Date.now() - DAY_MS) : new Date(value);

const errors = {
  400: errorDoc("A parameter is invalid"),
  ...containerRefResponses,
} as const;

const listContainers = createRoute({
  method: "get",
  path: "/containers",
  summary: "List containers",
  request: {
    query: z.object({
      host: textParam(253).optional(),
      runtime: runtime.optional(),
      state: containerState.optional(),
      name: textParam(256).optional().openapi({ description: "Substring of the name, any case." }),
      label: labelSelectorParam.optional(),
      compose_project: textParam(256).optional(),
      namespace: textParam(253)
        .optional()
        .openapi({ description: "Kubernetes namespace (the io.kubernetes.pod.namespace label)." }),
      include_gone: booleanParam.optional().openapi({ type: "boolean", default: false }),
      restarts_since: restartsSinceParam,
      limit: limitParam({ default: 100, max: 500 }),
      cursor: cursorParam(z.object({ after_id: z.number().int().nonnegative() })).optional(),
    }),
  },
  responses: {
    200: {
      description: "One page of containers, by id",
      content: {
        "application/json": {
          schema: z.object({ data: z.array(containerJson), next_cursor: z.string().nullable() }),
        },
      },
    },
    400: errors[400],
  },
});

const getContainer = createRoute({
  method: "get",
  path: "/containers/{id}",
  summary: "One container",
  request: {
    params: containerRefPath,
    query: z.object({ ...containerRefQuery, restarts_since: restartsSinceParam }),
  },
  responses: {
    200: { description: "The container", content: { "application/json": { schema: containerJson } } },
    ...errors,
  },
});

const getCurrentStats = createRoute({
  method: "get",
  path: "/containers/{id}/stats/current",
  summary: "The container's latest sample",
  request: { params: containerRefPath, query: z.object(containerRefQuery) },
  responses: {
    200: { description: "The newest sample", content: { "application/json": { schema: statsSampleJson } } },
    ...errors,
  },
});

const listEvents = createRoute({
  method: "get",
  path: "/containers/{id}/events",
  summary: "The container's lifecycle events, newest first",
  request: { params: containerRefPath, query: z.object({ ...eventFilterQuery, ...containerRefQuery }) },
  responses: {
    200: { description: "One page of events", content: { "application/json": { schema: eventPageJson } } },
    ...errors,
  },
});

const KUBERNETES_NAMESPACE_LABEL = "io.kubernetes.pod.namespace";

export function containerRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });

  app.openapi(listContainers, async (c) => {
    const query = c.req.valid("query");
    let select = c.var.db
      .selectFrom("containers")
      .selectAll()
      .orderBy("id")
      .limit(query.limit + 1);
    if (query.host !== undefined) select = select.where("host", "=", query.host);
    if (query.runtime !== undefined) select = select.where("runtime", "=", query.runtime);
    if (query.state !== undefined) select = select.where("state", "=", query.state);
    if (query.name !== undefined)
      select = select.where(sql<boolean>`strpos(lower(name), lower(${query.name})) > 0`);
    if (query.label !== undefined)
      select = select.where(matchesLabels<ApiDatabase, "containers">(query.label));
    if (query.compose_project !== undefined)
      select = select.where("compose_project", "=", query.compose_project);
    if (query.namespace !== undefined) {
      const clause = { key: KUBERNETES_NAMESPACE_LABEL, value: query.namespace, equal: true };
      select = select.where(matchesLabels<ApiDatabase, "containers">([clause]));
    }
    if (query.include_gone !== true) select = select.where("gone_at", "is", null);
    if (query.cursor !== undefined) select = select.where("id", ">", query.cursor.after_id);
    const rows = await select.execute();
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const nextCursor = rows.length > query.limit && last ? encodeCursor({ after_id: last.id }) : null;
    const since = restartsSince(query.restarts_since);
    const restarts = await countRestarts(
      c.var.db,
      page.map((row) => row.id),
      since,
    );
    const data = page.map((row) =>
      toContainerJson(row, { count: restarts.get(row.id) ?? 0, since: since.toISOString() }),
    );
    return c.json({ data, next_cursor: nextCursor }, 200);
  });

  app.openapi(getContainer, async (c) => {
    const query = c.req.valid("query");
    const id = await resolveContainerId(c.var.db, c.req.valid("param").id, query.host);
    const row = await c.var.db.selectFrom("containers").selectAll().where("id", "=", id).executeTakeFirst();
    // Removed by retention since it was resolved.
    if (!row) throw new ApiError("not_found", `no container with id ${id}`);
    const since = restartsSince(query.restarts_since);
    const restarts = await countRestarts(c.var.db, [id], since);
    return c.json(toContainerJson(row, { count: restarts.get(id) ?? 0, since: since.toISOString() }), 200);
  });

  app.openapi(getCurrentStats, async (c) => {
    const id = await resolveContainerId(c.var.db, c.req.valid("param").id, c.req.valid("query").host);
    const sample = await c.var.db
      .selectFrom("container_stats")
      .selectAll()
      .where("container_id", "=", id)
      .orderBy("ts", "desc")
      .limit(1)
      .executeTakeFirst();
    if (!sample) throw new ApiError("no_data", `container ${id} has no samples yet`);
    return c.json(toStatsSampleJson(sample), 200);
  });

  app.openapi(listEvents, async (c) => {
    const query = c.req.valid("query");
    const id = await resolveContainerId(c.var.db, c.req.valid("param").id, query.host);
    return c.json(await queryEventPage(c.var.db, { ...query, containerId: id }), 200);
  });

  return app;
}
