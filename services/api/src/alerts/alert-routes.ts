// Alerts as they stand and as they happened: GET /alerts/active, /alerts/history, and the
// history of one container. What is active is what the store's engine has fired and not
// resolved (docs/store.md, State and history).
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { type Kysely, sql } from "kysely";
import {
  containerRefPath,
  containerRefQuery,
  containerRefQueryParam,
  containerRefResponses,
  resolveContainerId,
} from "../containers/container-ref.ts";
import type { ApiDatabase } from "../db/api-database.ts";
import { errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { encodeCursor, keysetCursorParam, limitParam, textParam, timestampParam } from "../http/params.ts";
import { DELIVERY_STATUSES } from "../notifications/delivery-routes.ts";

const METRICS = ["cpu", "memory", "oom", "restart_loop"] as const;

const activeJson = z
  .object({
    container_id: z.number().int(),
    name: z.string(),
    host: z.string(),
    state: z.enum(["normal", "cpu_alert", "mem_alert", "both_alert"]),
    alerts: z.array(
      z.object({
        metric: z.enum(["cpu", "memory", "restart_loop"]),
        fired_at: z.string(),
        value: z.number().nullable(),
        threshold: z.number().nullable(),
      }),
    ),
  })
  .openapi("ActiveAlerts");

const transitionJson = z
  .object({
    id: z.number().int(),
    container_id: z.number().int(),
    name: z.string(),
    host: z.string(),
    ts: z.string(),
    metric: z.enum(METRICS),
    change: z.enum(["fired", "resolved"]),
    value: z.number().nullable(),
    threshold: z.number().nullable(),
    previous_state: z.string(),
    new_state: z.string(),
    notifications: z
      .array(
        z.object({
          channel_id: z.number().int(),
          channel: z.string(),
          status: z.enum(DELIVERY_STATUSES),
          attempts: z.number().int(),
        }),
      )
      .openapi({
        description:
          "What became of its notifications, one per channel it was routed to (each step at /alerts/history/{id}/notifications)",
      }),
  })
  .openapi("AlertTransition");

type NotificationSummary = z.infer<typeof transitionJson>["notifications"];

const historyQuery = {
  metric: z.enum(METRICS).optional(),
  change: z.enum(["fired", "resolved"]).optional(),
  from: timestampParam.optional(),
  to: timestampParam.optional(),
  limit: limitParam({ default: 100, max: 500 }),
  cursor: keysetCursorParam.optional(),
};

interface HistoryFilters {
  containerId?: number | undefined;
  host?: string | undefined;
  metric?: (typeof METRICS)[number] | undefined;
  change?: "fired" | "resolved" | undefined;
  from?: string | undefined;
  to?: string | undefined;
  limit: number;
  cursor?: { before_ts: string; before_id: number } | undefined;
}

async function historyPage(db: Kysely<ApiDatabase>, filters: HistoryFilters) {
  let select = db
    .selectFrom("alert_history as h")
    .innerJoin("containers as c", "c.id", "h.container_id")
    .select([
      "h.id",
      "h.container_id",
      "c.name",
      "c.host",
      "h.ts",
      "h.metric",
      "h.change",
      "h.value",
      "h.threshold",
      "h.previous_state",
      "h.new_state",
      // One row per (transition, channel), found by its unique key.
      sql<NotificationSummary>`coalesce((
        SELECT json_agg(json_build_object('channel_id', d.channel_id, 'channel', nc.name, 'status', d.status,
          'attempts', d.attempts) ORDER BY d.channel_id)
        FROM notification_deliveries d JOIN notification_channels nc ON nc.id = d.channel_id
        WHERE d.transition_id = h.id), '[]')`.as("notifications"),
    ])
    .orderBy("h.ts", "desc")
    .orderBy("h.id", "desc")
    .limit(filters.limit + 1);
  if (filters.containerId !== undefined) select = select.where("h.container_id", "=", filters.containerId);
  if (filters.host !== undefined) select = select.where("c.host", "=", filters.host);
  if (filters.metric !== undefined) select = select.where("h.metric", "=", filters.metric);
  if (filters.change !== undefined) select = select.where("h.change", "=", filters.change);
  if (filters.from !== undefined) select = select.where("h.ts", ">=", new Date(filters.from));
  if (filters.to !== undefined) select = select.where("h.ts", "<", new Date(filters.to));
  if (filters.cursor !== undefined) {
    const { before_ts: beforeTs, before_id: beforeId } = filters.cursor;
    select = select.where(sql<boolean>`(h.ts, h.id) < (${beforeTs}::timestamptz, ${beforeId}::bigint)`);
  }
  const rows = await select.execute();
  const page = rows.slice(0, filters.limit);
  const last = page.at(-1);
  return {
    data: page.map((row) => ({
      ...row,
      ts: row.ts.toISOString(),
      metric: row.metric as (typeof METRICS)[number],
      change: row.change as "fired" | "resolved",
    })),
    next_cursor:
      rows.length > filters.limit && last
        ? encodeCursor({ before_ts: last.ts.toISOString(), before_id: last.id })
        : null,
  };
}

const pageJson = z.object({ data: z.array(transitionJson), next_cursor: z.string().nullable() });

export function alertRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });

  app.openapi(
    createRoute({
      method: "get",
      path: "/alerts/active",
      summary: "Containers with alerts firing now, and what fired with its value and threshold",
      request: { query: z.object({ host: textParam(253).optional() }) },
      responses: {
        200: {
          description: "Firing alerts",
          content: { "application/json": { schema: z.object({ data: z.array(activeJson) }) } },
        },
        400: errorDoc("A parameter is invalid"),
      },
    }),
    async (c) => {
      const { host } = c.req.valid("query");
      let select = c.var.db
        .selectFrom("alert_states as s")
        .innerJoin("containers as c", "c.id", "s.container_id")
        .selectAll("s")
        .select(["c.name", "c.host"])
        .where((eb) =>
          eb.or([
            eb("s.cpu_fired_at", "is not", null),
            eb("s.mem_fired_at", "is not", null),
            eb("s.restart_loop_fired_at", "is not", null),
          ]),
        )
        .orderBy("s.container_id");
      if (host !== undefined) select = select.where("c.host", "=", host);
      const rows = await select.execute();
      const data = rows.map((row) => {
        const fired = [
          ["cpu", row.cpu_fired_at, row.cpu_fired_value, row.cpu_fired_threshold],
          ["memory", row.mem_fired_at, row.mem_fired_value, row.mem_fired_threshold],
          [
            "restart_loop",
            row.restart_loop_fired_at,
            row.restart_loop_fired_value,
            row.restart_loop_fired_threshold,
          ],
        ] as const;
        return {
          container_id: row.container_id,
          name: row.name,
          host: row.host,
          state: row.state as "normal" | "cpu_alert" | "mem_alert" | "both_alert",
          alerts: fired
            .filter(([, at]) => at !== null)
            .map(([metric, at, value, threshold]) => ({
              metric,
              fired_at: (at as Date).toISOString(),
              value,
              threshold,
            })),
        };
      });
      return c.json({ data }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/alerts/history",
      summary: "Alert transitions of every container, newest first",
      request: {
        query: z.object({
          host: textParam(253).optional(),
          container_id: containerRefQueryParam.optional(),
          ...historyQuery,
        }),
      },
      responses: {
        200: {
          description: "One page of transitions",
          content: { "application/json": { schema: pageJson } },
        },
        400: errorDoc("A parameter is invalid"),
        ...containerRefResponses,
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const containerId =
        query.container_id === undefined
          ? undefined
          : await resolveContainerId(c.var.db, query.container_id, query.host);
      return c.json(await historyPage(c.var.db, { ...query, containerId }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/containers/{id}/alerts/history",
      summary: "One container's alert transitions, newest first",
      request: {
        params: containerRefPath,
        query: z.object({ ...historyQuery, ...containerRefQuery }),
      },
      responses: {
        200: {
          description: "One page of transitions",
          content: { "application/json": { schema: pageJson } },
        },
        400: errorDoc("A parameter is invalid"),
        ...containerRefResponses,
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const id = await resolveContainerId(c.var.db, c.req.valid("param").id, query.host);
      return c.json(await historyPage(c.var.db, { ...query, containerId: id }), 200);
    },
  );

  return app;
}
