// Notification channels (admin writes): webhook, Slack, Discord, ntfy, email. Settings are shown;
// secrets are write-only: an answer names the secrets that are set (`secrets_set`), never their
// values. PUT without `secrets` keeps the stored ones; with `secrets`, they replace them all.
// POST …/test sends a test message from the api and reports the channel's answer.

import {
  CHANNEL_TYPES,
  type ChannelTarget,
  parseChannelTarget,
  sendNotification,
  smtpTransport,
} from "@crowsnest/shared/notify";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { type Kysely, sql } from "kysely";
import type { ApiDatabase } from "../db/api-database.ts";
import { ApiError, errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { idPath, textParam } from "../http/params.ts";
import { withUniqueName } from "../http/unique-name.ts";

/** Short enough to answer before a proxy in front of the api gives up. */
const TEST_TIMEOUT_MS = 10_000;

const channelBody = z
  .object({
    name: textParam(200),
    type: z.enum(CHANNEL_TYPES),
    enabled: z.boolean().default(true),
    settings: z.record(z.string(), z.unknown()).default({}).openapi({
      description:
        "Per type (docs/notifications.md): webhook {url}; ntfy {server_url}; email {host, port, security, username, from, to, ca_pem}.",
    }),
    secrets: z.record(z.string(), z.unknown()).optional().openapi({
      description:
        "Write-only. webhook {hmac_secret, headers}; slack/discord {webhook_url}; ntfy {topic, token}; email {password}. Omitted on PUT: the stored secrets are kept.",
    }),
    rate_limit_per_minute: z.number().int().min(1).max(10_000).default(30).openapi({
      description:
        "Messages per minute; beyond it, a container's transitions are folded into one message with a count.",
    }),
  })
  .strict();

const channelJson = z
  .object({
    id: z.number().int(),
    name: z.string(),
    type: z.enum(CHANNEL_TYPES),
    enabled: z.boolean(),
    settings: z.record(z.string(), z.unknown()),
    secrets_set: z
      .array(z.string())
      .openapi({ description: "Names of the secrets stored (values are never returned)." }),
    rate_limit_per_minute: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("NotificationChannel");

const testJson = z
  .object({
    delivered: z.boolean(),
    answer: z.string().openapi({ description: "What the channel answered, or why it could not be reached." }),
  })
  .openapi("NotificationTestResult");

interface ChannelRow {
  id: string;
  name: string;
  type: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  secrets: Record<string, unknown>;
  rate_limit_per_minute: number;
  created_at: Date;
  updated_at: Date;
}

function toChannelJson(row: ChannelRow) {
  const secretNames = Object.entries(row.secrets).flatMap(([key, value]) =>
    // Header names are not secret, their values are: name each header.
    key === "headers" && typeof value === "object" && value !== null
      ? Object.keys(value).map((header) => `headers.${header}`)
      : [key],
  );
  return {
    id: Number(row.id),
    name: row.name,
    type: row.type as ChannelTarget["type"],
    enabled: row.enabled,
    settings: row.settings,
    secrets_set: secretNames.sort(),
    rate_limit_per_minute: row.rate_limit_per_minute,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

async function findChannel(db: Kysely<ApiDatabase>, id: number): Promise<ChannelRow> {
  const found = await sql<ChannelRow>`
    SELECT id::text, name, type, enabled, settings, secrets, rate_limit_per_minute, created_at, updated_at
    FROM notification_channels WHERE id = ${id}`.execute(db);
  const row = found.rows[0];
  if (!row) throw new ApiError("not_found", `no notification channel with id ${id}`);
  return row;
}

/** Settings and secrets checked against the type; the message names fields, never secret values. */
function validated(id: number, body: z.infer<typeof channelBody>, secrets: unknown): ChannelTarget {
  const parsed = parseChannelTarget({
    id,
    name: body.name,
    type: body.type,
    settings: body.settings,
    secrets,
  });
  if (!parsed.ok) throw new ApiError("invalid_request", parsed.detail);
  return parsed.target;
}

const returning = sql`RETURNING id::text, name, type, enabled, settings, secrets, rate_limit_per_minute, created_at, updated_at`;

export function channelRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/channels",
      summary: "Notification channels, without their secrets",
      responses: {
        200: {
          description: "Every channel",
          content: { "application/json": { schema: z.object({ data: z.array(channelJson) }) } },
        },
      },
    }),
    async (c) => {
      const rows = await sql<ChannelRow>`
        SELECT id::text, name, type, enabled, settings, secrets, rate_limit_per_minute, created_at, updated_at
        FROM notification_channels ORDER BY id`.execute(c.var.db);
      return c.json({ data: rows.rows.map(toChannelJson) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/notifications/channels",
      summary: "Create a notification channel (admin)",
      request: { body: { required: true, content: { "application/json": { schema: channelBody } } } },
      responses: {
        201: { description: "The channel", content: { "application/json": { schema: channelJson } } },
        400: errorDoc("The body is invalid, or the name is taken"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const target = validated(0, body, body.secrets ?? {});
      const row = await withUniqueName("channel", body.name, () =>
        sql<ChannelRow>`
          INSERT INTO notification_channels (name, type, enabled, settings, secrets, rate_limit_per_minute)
          VALUES (${body.name}, ${body.type}, ${body.enabled}, ${JSON.stringify(target.settings)}::jsonb,
            ${JSON.stringify(target.secrets)}::jsonb, ${body.rate_limit_per_minute})
          ${returning}`.execute(c.var.db),
      );
      return c.json(toChannelJson(row.rows[0] as ChannelRow), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications/channels/{id}",
      summary: "One notification channel, without its secrets",
      request: { params: idPath },
      responses: {
        200: { description: "The channel", content: { "application/json": { schema: channelJson } } },
        400: errorDoc("A parameter is invalid"),
        404: errorDoc("No such channel"),
      },
    }),
    async (c) => c.json(toChannelJson(await findChannel(c.var.db, c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/notifications/channels/{id}",
      summary: "Replace a notification channel (admin); omit secrets to keep the stored ones",
      request: {
        params: idPath,
        body: { required: true, content: { "application/json": { schema: channelBody } } },
      },
      responses: {
        200: { description: "The channel", content: { "application/json": { schema: channelJson } } },
        400: errorDoc("The body is invalid, or the name is taken"),
        404: errorDoc("No such channel"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const current = await findChannel(c.var.db, id);
      if (body.secrets === undefined && body.type !== current.type) {
        throw new ApiError("invalid_request", "secrets: required when the channel's type changes");
      }
      const target = validated(id, body, body.secrets ?? current.secrets);
      const row = await withUniqueName("channel", body.name, () =>
        sql<ChannelRow>`
          UPDATE notification_channels SET name = ${body.name}, type = ${body.type}, enabled = ${body.enabled},
            settings = ${JSON.stringify(target.settings)}::jsonb, secrets = ${JSON.stringify(target.secrets)}::jsonb,
            rate_limit_per_minute = ${body.rate_limit_per_minute}, updated_at = now()
          WHERE id = ${id}
          ${returning}`.execute(c.var.db),
      );
      const updated = row.rows[0];
      if (!updated) throw new ApiError("not_found", `no notification channel with id ${id}`);
      return c.json(toChannelJson(updated), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/notifications/channels/{id}",
      summary: "Delete a notification channel (admin), its pending messages and delivery log",
      request: { params: idPath },
      responses: {
        204: { description: "Deleted" },
        400: errorDoc("A parameter is invalid"),
        404: errorDoc("No such channel"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const deleted = await c.var.db.transaction().execute(async (trx) => {
        // Routes naming it forget it; a route left with no channel is deleted with it.
        await sql`UPDATE notification_routes SET channel_ids = array_remove(channel_ids, ${id}::bigint)
          WHERE ${id}::bigint = ANY(channel_ids) AND cardinality(channel_ids) > 1`.execute(trx);
        await sql`DELETE FROM notification_routes WHERE channel_ids = ARRAY[${id}::bigint]`.execute(trx);
        return sql`DELETE FROM notification_channels WHERE id = ${id}`.execute(trx);
      });
      if (Number(deleted.numAffectedRows ?? 0) === 0)
        throw new ApiError("not_found", `no notification channel with id ${id}`);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/notifications/channels/{id}/test",
      summary: "Send a test message to a channel now (admin) and report its answer",
      request: { params: idPath },
      responses: {
        200: {
          description: "The channel's answer (delivered or not)",
          content: { "application/json": { schema: testJson } },
        },
        400: errorDoc("A parameter is invalid, or the stored configuration is"),
        404: errorDoc("No such channel"),
      },
    }),
    async (c) => {
      const row = await findChannel(c.var.db, c.req.valid("param").id);
      const parsed = parseChannelTarget({ ...row, id: Number(row.id) });
      if (!parsed.ok)
        throw new ApiError("invalid_request", `channel configuration invalid: ${parsed.detail}`);
      const result = await sendNotification(
        parsed.target,
        {
          v: 1,
          type: "test",
          ts: new Date().toISOString(),
          channel: row.name,
          text: "If you can read this, Crowsnest can reach this channel.",
        },
        { timeoutMs: TEST_TIMEOUT_MS, email: smtpTransport },
      );
      return c.json({ delivered: result.ok, answer: result.answer }, 200);
    },
  );

  return app;
}
