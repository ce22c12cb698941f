// Notification routes (admin writes): which transitions go to which channels, by label selector,
// host, metric, change and severity, with optional quiet hours. The store reads them at each
// transition, so a change applies to the next one.

import { quietHoursSchema } from "@crowsnest/shared/notify";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { type Kysely, sql, type Transaction } from "kysely";
import type { ApiDatabase } from "../db/api-database.ts";
import { ApiError, errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { idPath, NO_CONTROL_CHARACTERS, textParam } from "../http/params.ts";
import { withUniqueName } from "../http/unique-name.ts";

const selectorJson = z
  .record(
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,252}$/, "label names are letters, digits and ._/-"),
    z.string().max(253).regex(NO_CONTROL_CHARACTERS, "must not contain control characters"),
  )
  .refine((selector) => Object.keys(selector).length <= 20, "at most 20 labels");

const list = <T extends z.ZodType>(item: T, description: string) =>
  z
    .array(item)
    .max(50)
    .default([])
    .openapi({ description: `${description}; empty: any.` });

const routeBody = z
  .object({
    name: textParam(200),
    enabled: z.boolean().default(true),
    channel_ids: z.array(z.number().int().positive()).min(1).max(50),
    selector: selectorJson
      .default({})
      .openapi({ description: "Labels a container must all have; {} matches all." }),
    hosts: list(textParam(253), "Hosts"),
    metrics: list(z.enum(["cpu", "memory", "oom", "restart_loop"]), "Metrics"),
    changes: list(z.enum(["fired", "resolved"]), "Changes"),
    severities: list(
      z.enum(["critical", "warning", "info"]),
      "Severities (critical: OOM, restart loop; warning: CPU, memory; info: resolved)",
    ),
    quiet_hours: z
      .object({ start: z.string(), end: z.string(), time_zone: z.string() })
      .nullable()
      .default(null)
      .openapi({
        description:
          'Held while quiet, sent at the end: {"start": "22:00", "end": "07:00", "time_zone": "Europe/Paris"}.',
      }),
  })
  .strict();

const routeJson = z
  .object({
    id: z.number().int(),
    name: z.string(),
    enabled: z.boolean(),
    channel_ids: z.array(z.number().int()),
    selector: z.record(z.string(), z.string()),
    hosts: z.array(z.string()),
    metrics: z.array(z.string()),
    changes: z.array(z.string()),
    severities: z.array(z.string()),
    quiet_hours: z.object({ start: z.string(), end: z.string(), time_zone: z.string() }).nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("NotificationRoute");

interface RouteRow {
  id: string;
  name: string;
  enabled: boolean;
  channel_ids: string[];
  selector: Record<string, string>;
  hosts: string[];
  metrics: string[];
  changes: string[];
  severities: string[];
  quiet_hours: { start: string; end: string; time_zone: string } | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = sql`id::text, name, enabled, channel_ids::text[] AS channel_ids, selector, hosts, metrics, changes,
  severities, quiet_hours, created_at, updated_at`;

const toRouteJson = (row: RouteRow) => ({
  ...row,
  id: Number(row.id),
  channel_ids: row.channel_ids.map(Number),
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
});

/** Quiet hours well-formed and every channel existing; a 400 naming what is wrong otherwise. */
async function checked(db: Kysely<ApiDatabase> | Transaction<ApiDatabase>, body: z.infer<typeof routeBody>) {
  if (body.quiet_hours !== null) {
    const quiet = quietHoursSchema.safeParse(body.quiet_hours);
    if (!quiet.success) {
      throw new ApiError(
        "invalid_request",
        `quiet_hours: ${quiet.error.issues.map((i) => i.message).join("; ")}`,
      );
    }
  }
  const channelIds = [...new Set(body.channel_ids)];
  const found = await sql<{ id: string }>`
    SELECT id::text FROM notification_channels WHERE id = ANY(${channelIds}::bigint[])`.execute(db);
  const missing = channelIds.filter((id) => !found.rows.some((row) => Number(row.id) === id));
  if (missing.length > 0)
    throw new ApiError("invalid_request", `channel_ids: no channel with id ${missing.join(", ")}`);
  return { ...body, channel_ids: channelIds };
}

function values(body: Awaited<ReturnType<typeof checked>>) {
  return sql`${body.name}, ${body.enabled}, ${body.channel_ids}::bigint[], ${JSON.stringify(body.selector)}::jsonb,
    ${body.hosts}::text[], ${body.metrics}::text[], ${body.changes}::text[], ${body.severities}::text[],
    ${body.quiet_hours === null ? null : JSON.stringify(body.quiet_hours)}::jsonb`;
}

export function routingRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/routes",
      summary: "Notification routes",
      responses: {
        200: {
          description: "Every route",
          content: { "application/json": { schema: z.object({ data: z.array(routeJson) }) } },
        },
      },
    }),
    async (c) => {
      const rows = await sql<RouteRow>`SELECT ${COLUMNS} FROM notification_routes ORDER BY id`.execute(
        c.var.db,
      );
      return c.json({ data: rows.rows.map(toRouteJson) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/notifications/routes",
      summary: "Create a notification route (admin)",
      request: { body: { required: true, content: { "application/json": { schema: routeBody } } } },
      responses: {
        201: { description: "The route", content: { "application/json": { schema: routeJson } } },
        400: errorDoc("The body is invalid, a channel does not exist, or the name is taken"),
      },
    }),
    async (c) => {
      const body = await checked(c.var.db, c.req.valid("json"));
      const row = await withUniqueName("route", body.name, () =>
        sql<RouteRow>`
          INSERT INTO notification_routes (name, enabled, channel_ids, selector, hosts, metrics, changes, severities, quiet_hours)
          VALUES (${values(body)}) RETURNING ${COLUMNS}`.execute(c.var.db),
      );
      return c.json(toRouteJson(row.rows[0] as RouteRow), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/routes/{id}",
      summary: "One notification route",
      request: { params: idPath },
      responses: {
        200: { description: "The route", content: { "application/json": { schema: routeJson } } },
        400: errorDoc("A parameter is invalid"),
        404: errorDoc("No such route"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = (
        await sql<RouteRow>`SELECT ${COLUMNS} FROM notification_routes WHERE id = ${id}`.execute(c.var.db)
      ).rows[0];
      if (!row) throw new ApiError("not_found", `no notification route with id ${id}`);
      return c.json(toRouteJson(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/notifications/routes/{id}",
      summary: "Replace a notification route (admin)",
      request: {
        params: idPath,
        body: { required: true, content: { "application/json": { schema: routeBody } } },
      },
      responses: {
        200: { description: "The route", content: { "application/json": { schema: routeJson } } },
        400: errorDoc("The body is invalid, a channel does not exist, or the name is taken"),
        404: errorDoc("No such route"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = await checked(c.var.db, c.req.valid("json"));
      const row = await withUniqueName("route", body.name, () =>
        sql<RouteRow>`
          UPDATE notification_routes SET (name, enabled, channel_ids, selector, hosts, metrics, changes, severities, quiet_hours)
            = (${values(body)}), updated_at = now()
          WHERE id = ${id} RETURNING ${COLUMNS}`.execute(c.var.db),
      );
      const updated = row.rows[0];
      if (!updated) throw new ApiError("not_found", `no notification route with id ${id}`);
      return c.json(toRouteJson(updated), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/notifications/routes/{id}",
      summary: "Delete a notification route (admin)",
      request: { params: idPath },
      responses: {
        204: { description: "Deleted" },
        400: errorDoc("A parameter is invalid"),
        404: errorDoc("No such route"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const deleted = await sql`DELETE FROM notification_routes WHERE id = ${id}`.execute(c.var.db);
      if (Number(deleted.numAffectedRows ?? 0) === 0)
        throw new ApiError("not_found", `no notification route with id ${id}`);
      return c.body(null, 204);
    },
  );

  return app;
}
