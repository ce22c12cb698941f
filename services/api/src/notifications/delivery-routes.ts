// The delivery log: what became of each transition's notifications (queued, held, failed with the
// channel's answer, sent, gave up), beside the alert history, and a container's mute switch.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { type Kysely, sql } from "kysely";
import {
  containerRefPath,
  containerRefQuery,
  containerRefResponses,
  resolveContainerId,
} from "../containers/container-ref.ts";
import type { ApiDatabase } from "../db/api-database.ts";
import { ApiError, errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { cursorParam, encodeCursor, idParam, idPath, limitParam } from "../http/params.ts";

/** A delivery's status, as the store's notification_deliveries table allows. */
export const DELIVERY_STATUSES = ["queued", "retrying", "sent", "gave_up", "folded"] as const;

const deliveryJson = z
  .object({
    id: z.number().int(),
    transition_id: z.number().int(),
    container_id: z.number().int(),
    channel: z.object({ id: z.number().int(), name: z.string(), type: z.string() }),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    next_attempt_at: z
      .string()
      .nullable()
      .openapi({ description: "When the next try is due (pending only)." }),
    last_answer: z.string().nullable(),
    queued_at: z.string(),
    finished_at: z.string().nullable(),
    log: z.array(
      z.object({
        ts: z.string(),
        event: z.enum(["queued", "held", "failed", "sent", "gave_up", "folded"]),
        attempt: z.number().int(),
        answer: z.string().nullable(),
      }),
    ),
  })
  .openapi("NotificationDelivery");

const muteJson = z
  .object({
    container_id: z.number().int(),
    muted: z.boolean(),
    until: z.string().nullable().openapi({ description: "Muted until then; null: for good (or not muted)." }),
  })
  .openapi("NotificationMute");

interface DeliveryRow {
  id: string;
  transition_id: string;
  container_id: string;
  channel_id: string;
  channel_name: string;
  channel_type: string;
  status: (typeof DELIVERY_STATUSES)[number];
  attempts: number;
  next_attempt_at: Date;
  last_answer: string | null;
  queued_at: Date;
  finished_at: Date | null;
  log: {
    ts: string;
    event: z.infer<typeof deliveryJson>["log"][number]["event"];
    attempt: number;
    answer: string | null;
  }[];
}

const toDeliveryJson = (row: DeliveryRow) => ({
  id: Number(row.id),
  transition_id: Number(row.transition_id),
  container_id: Number(row.container_id),
  channel: { id: Number(row.channel_id), name: row.channel_name, type: row.channel_type },
  status: row.status,
  attempts: row.attempts,
  next_attempt_at:
    row.status === "queued" || row.status === "retrying" ? row.next_attempt_at.toISOString() : null,
  last_answer: row.last_answer,
  queued_at: row.queued_at.toISOString(),
  finished_at: row.finished_at?.toISOString() ?? null,
  log: row.log.map((entry) => ({ ...entry, ts: new Date(entry.ts).toISOString() })),
});

function selectDeliveries(db: Kysely<ApiDatabase>, where: ReturnType<typeof sql>, limit: number) {
  return sql<DeliveryRow>`
    SELECT d.id::text, d.transition_id::text, d.container_id::text, d.channel_id::text,
      c.name AS channel_name, c.type AS channel_type, d.status, d.attempts, d.next_attempt_at,
      d.last_answer, d.queued_at, d.finished_at,
      coalesce((SELECT json_agg(json_build_object('ts', l.ts, 'event', l.event, 'attempt', l.attempt, 'answer', l.answer)
        ORDER BY l.id) FROM notification_delivery_log l WHERE l.delivery_id = d.id), '[]') AS log
    FROM notification_deliveries d JOIN notification_channels c ON c.id = d.channel_id
    WHERE ${where}
    ORDER BY d.id DESC
    LIMIT ${limit}`.execute(db);
}

const MUTE_PATH = "/containers/{id}/notifications/mute";
/** The container a mute route is about: any container reference, narrowed by `host`. */
const muteTarget = { params: containerRefPath, query: z.object(containerRefQuery) };
const muteResponses = (invalid: string) => ({
  200: { description: "Its mute state", content: { "application/json": { schema: muteJson } } },
  400: errorDoc(invalid),
  ...containerRefResponses,
});

async function muteState(db: Kysely<ApiDatabase>, containerId: number) {
  const container = await sql<{ until: Date | null; muted: boolean }>`
    SELECT m.until, (m.container_id IS NOT NULL AND (m.until IS NULL OR m.until > now())) AS muted
    FROM containers c LEFT JOIN notification_mutes m ON m.container_id = c.id
    WHERE c.id = ${containerId}`.execute(db);
  const row = container.rows[0];
  if (!row) throw new ApiError("not_found", `no container with id ${containerId}`);
  return {
    container_id: containerId,
    muted: row.muted,
    until: row.muted ? (row.until?.toISOString() ?? null) : null,
  };
}

export function deliveryRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/deliveries",
      summary: "Notification deliveries with their log, newest first",
      request: {
        query: z.object({
          transition_id: idParam.optional().openapi({ type: "integer" }),
          channel_id: idParam.optional().openapi({ type: "integer" }),
          container_id: idParam.optional().openapi({ type: "integer" }),
          status: z.enum(DELIVERY_STATUSES).optional(),
          limit: limitParam({ default: 100, max: 500 }),
          cursor: cursorParam(z.object({ before_id: z.number().int() })).optional(),
        }),
      },
      responses: {
        200: {
          description: "A page of deliveries",
          content: {
            "application/json": {
              schema: z.object({ data: z.array(deliveryJson), next_cursor: z.string().nullable() }),
            },
          },
        },
        400: errorDoc("A parameter is invalid"),
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const conditions = [sql`true`];
      if (query.transition_id !== undefined) conditions.push(sql`d.transition_id = ${query.transition_id}`);
      if (query.channel_id !== undefined) conditions.push(sql`d.channel_id = ${query.channel_id}`);
      if (query.container_id !== undefined) conditions.push(sql`d.container_id = ${query.container_id}`);
      if (query.status !== undefined) conditions.push(sql`d.status = ${query.status}`);
      if (query.cursor !== undefined) conditions.push(sql`d.id < ${query.cursor.before_id}`);
      const rows = await selectDeliveries(c.var.db, sql.join(conditions, sql` AND `), query.limit + 1);
      const page = rows.rows.slice(0, query.limit);
      const last = page.at(-1);
      const nextCursor =
        rows.rows.length > query.limit && last ? encodeCursor({ before_id: Number(last.id) }) : null;
      return c.json({ data: page.map(toDeliveryJson), next_cursor: nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/alerts/history/{id}/notifications",
      summary: "What became of one alert transition's notifications, per channel",
      request: { params: idPath },
      responses: {
        200: {
          description: "Its deliveries",
          content: { "application/json": { schema: z.object({ data: z.array(deliveryJson) }) } },
        },
        400: errorDoc("A parameter is invalid"),
        404: errorDoc("No such transition"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const exists = await sql`SELECT 1 FROM alert_history WHERE id = ${id}`.execute(c.var.db);
      if (exists.rows.length === 0) throw new ApiError("not_found", `no alert transition with id ${id}`);
      const rows = await selectDeliveries(c.var.db, sql`d.transition_id = ${id}`, 100);
      return c.json({ data: rows.rows.map(toDeliveryJson) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: MUTE_PATH,
      summary: "Whether a container's alerts notify no one",
      request: muteTarget,
      responses: muteResponses("A parameter is invalid"),
    }),
    async (c) => {
      const id = await resolveContainerId(c.var.db, c.req.valid("param").id, c.req.valid("query").host);
      return c.json(await muteState(c.var.db, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: MUTE_PATH,
      summary: "Mute a container's notifications (admin), until a time or for good",
      request: {
        ...muteTarget,
        body: {
          required: true,
          content: {
            "application/json": {
              schema: z
                .object({
                  until: z.iso
                    .datetime({ offset: true, message: "must be an RFC 3339 timestamp" })
                    .nullable()
                    .default(null),
                })
                .strict(),
            },
          },
        },
      },
      responses: muteResponses("The body or a parameter is invalid"),
    }),
    async (c) => {
      const id = await resolveContainerId(c.var.db, c.req.valid("param").id, c.req.valid("query").host);
      const { until } = c.req.valid("json");
      await muteState(c.var.db, id);
      await sql`
        INSERT INTO notification_mutes (container_id, until) VALUES (${id}, ${until}::timestamptz)
        ON CONFLICT (container_id) DO UPDATE SET until = excluded.until, created_at = now()`.execute(
        c.var.db,
      );
      return c.json(await muteState(c.var.db, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: MUTE_PATH,
      summary: "Unmute a container's notifications (admin)",
      request: muteTarget,
      responses: muteResponses("A parameter is invalid"),
    }),
    async (c) => {
      const id = await resolveContainerId(c.var.db, c.req.valid("param").id, c.req.valid("query").host);
      await sql`DELETE FROM notification_mutes WHERE container_id = ${id}`.execute(c.var.db);
      return c.json(await muteState(c.var.db, id), 200);
    },
  );

  return app;
}
