// Alert configuration: a container's own settings (GET/PUT/DELETE) and label rules that give
// defaults to many containers. The store's engine picks changes up within seconds. GET on a
// container answers with the settings in effect and where they come from: its own row, the
// matching rule with the highest priority, or none (no alerting).
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { type Kysely, sql } from "kysely";
import {
  containerRefPath,
  containerRefQuery,
  containerRefResponses,
  resolveContainerId,
} from "../containers/container-ref.ts";
import type { ApiDatabase } from "../db/api-database.ts";
import { ApiError, errorEnvelope } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { idParam, NO_CONTROL_CHARACTERS, textParam } from "../http/params.ts";
import {
  ALERT_DEFAULTS,
  type AlertSettings,
  alertSettingsBody,
  alertSettingsJson,
  pickSettings,
} from "./alert-settings.ts";

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: errorEnvelope } },
});
const idPath = z.object({ id: idParam.openapi({ param: { name: "id", in: "path" }, type: "integer" }) });

const effectiveConfigJson = alertSettingsJson
  .extend({
    container_id: z.number().int(),
    source: z.enum(["container", "rule", "none"]).openapi({
      description:
        "container: its own settings; rule: the matching label rule; none: no alerting (defaults shown).",
    }),
    rule: z.object({ id: z.number().int(), name: z.string() }).nullable(),
    memory_alert_possible: z
      .boolean()
      .openapi({ description: "False while the container has no memory limit: memory alerts need one." }),
  })
  .openapi("AlertConfig");

const selectorJson = z
  .record(
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,252}$/, "label names are letters, digits and ._/-"),
    z.string().max(253).regex(NO_CONTROL_CHARACTERS, "must not contain control characters"),
  )
  .refine((selector) => Object.keys(selector).length <= 20, "at most 20 labels")
  .openapi({
    example: { "com.docker.compose.project": "shop" },
    description: "Labels a container must all have; {} matches all.",
  });

const ruleBody = z
  .object({
    name: textParam(200),
    selector: selectorJson.default({}),
    priority: z
      .number()
      .int()
      .min(-1000)
      .max(1000)
      .default(0)
      .openapi({ description: "Higher wins among matching rules." }),
    ...alertSettingsBody,
  })
  .strict();

const ruleJson = alertSettingsJson
  .extend({
    id: z.number().int(),
    name: z.string(),
    selector: z.record(z.string(), z.string()),
    priority: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("AlertRule");

type RuleRow = AlertSettings & {
  id: number;
  name: string;
  selector: Record<string, string>;
  priority: number;
  created_at: Date;
  updated_at: Date;
};
const toRuleJson = (row: RuleRow) => ({
  ...row,
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
});

async function effectiveConfig(db: Kysely<ApiDatabase>, containerId: number) {
  const container = await db
    .selectFrom("containers")
    .select(["id", "labels"])
    .where("id", "=", containerId)
    .executeTakeFirst();
  if (!container) throw new ApiError("not_found", `no container with id ${containerId}`);
  const latest = await db
    .selectFrom("container_stats")
    .select("mem_limit")
    .where("container_id", "=", containerId)
    .orderBy("ts", "desc")
    .limit(1)
    .executeTakeFirst();
  const memoryAlertPossible = latest?.mem_limit !== null && latest?.mem_limit !== undefined;
  const own = await db
    .selectFrom("alert_configs")
    .selectAll()
    .where("container_id", "=", containerId)
    .executeTakeFirst();
  if (own) {
    return {
      container_id: containerId,
      ...pickSettings(own),
      source: "container" as const,
      rule: null,
      memory_alert_possible: memoryAlertPossible,
    };
  }
  const rule = await db
    .selectFrom("alert_rules")
    .selectAll()
    .where(sql<boolean>`${JSON.stringify(container.labels)}::jsonb @> selector`)
    .orderBy("priority", "desc")
    .orderBy("id")
    .limit(1)
    .executeTakeFirst();
  if (rule) {
    return {
      container_id: containerId,
      ...pickSettings(rule),
      source: "rule" as const,
      rule: { id: rule.id, name: rule.name },
      memory_alert_possible: memoryAlertPossible,
    };
  }
  return {
    container_id: containerId,
    ...ALERT_DEFAULTS,
    enabled: false,
    source: "none" as const,
    rule: null,
    memory_alert_possible: memoryAlertPossible,
  };
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "23505";
}

export function alertConfigRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });

  app.openapi(
    createRoute({
      method: "get",
      path: "/containers/{id}/alerts/config",
      summary: "The alert settings in effect for a container, and where they come from",
      request: { params: containerRefPath, query: z.object(containerRefQuery) },
      responses: {
        200: {
          description: "Settings in effect",
          content: { "application/json": { schema: effectiveConfigJson } },
        },
        400: errorResponse("A parameter is invalid"),
        ...containerRefResponses,
      },
    }),
    async (c) => {
      const id = await resolveContainerId(c.var.db, c.req.valid("param").id, c.req.valid("query").host);
      return c.json(await effectiveConfig(c.var.db, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/containers/{id}/alerts/config",
      summary: "Set a container's own alert settings (admin); they win over every rule",
      request: {
        params: containerRefPath,
        query: z.object(containerRefQuery),
        body: {
          required: true,
          content: { "application/json": { schema: z.object(alertSettingsBody).strict() } },
        },
      },
      responses: {
        200: {
          description: "Settings now in effect",
          content: { "application/json": { schema: effectiveConfigJson } },
        },
        400: errorResponse("The body or a parameter is invalid"),
        ...containerRefResponses,
      },
    }),
    async (c) => {
      const id = await resolveContainerId(c.var.db, c.req.valid("param").id, c.req.valid("query").host);
      const settings = c.req.valid("json");
      await c.var.db
        .insertInto("alert_configs")
        .values({ container_id: id, ...settings })
        .onConflict((conflict) =>
          conflict.column("container_id").doUpdateSet({ ...settings, updated_at: new Date() }),
        )
        .execute();
      return c.json(await effectiveConfig(c.var.db, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/containers/{id}/alerts/config",
      summary: "Remove a container's own alert settings (admin); rules apply again",
      request: { params: containerRefPath, query: z.object(containerRefQuery) },
      responses: {
        200: {
          description: "Settings now in effect",
          content: { "application/json": { schema: effectiveConfigJson } },
        },
        400: errorResponse("A parameter is invalid"),
        ...containerRefResponses,
      },
    }),
    async (c) => {
      const id = await resolveContainerId(c.var.db, c.req.valid("param").id, c.req.valid("query").host);
      await c.var.db.deleteFrom("alert_configs").where("container_id", "=", id).execute();
      return c.json(await effectiveConfig(c.var.db, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/alert-rules",
      summary: "Label rules, highest priority first",
      responses: {
        200: {
          description: "Every rule",
          content: { "application/json": { schema: z.object({ data: z.array(ruleJson) }) } },
        },
      },
    }),
    async (c) => {
      const rows = await c.var.db
        .selectFrom("alert_rules")
        .selectAll()
        .orderBy("priority", "desc")
        .orderBy("id")
        .execute();
      return c.json({ data: rows.map(toRuleJson) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/alert-rules",
      summary: "Create a label rule (admin)",
      request: { body: { required: true, content: { "application/json": { schema: ruleBody } } } },
      responses: {
        201: { description: "The rule", content: { "application/json": { schema: ruleJson } } },
        400: errorResponse("The body is invalid, or the name is taken"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      try {
        const row = await c.var.db
          .insertInto("alert_rules")
          .values({ ...body, selector: JSON.stringify(body.selector) })
          .returningAll()
          .executeTakeFirstOrThrow();
        return c.json(toRuleJson(row), 201);
      } catch (error) {
        if (isUniqueViolation(error))
          throw new ApiError("invalid_request", `name: a rule named "${body.name}" exists`);
        throw error;
      }
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/alert-rules/{id}",
      summary: "One label rule",
      request: { params: idPath },
      responses: {
        200: { description: "The rule", content: { "application/json": { schema: ruleJson } } },
        400: errorResponse("A parameter is invalid"),
        404: errorResponse("No such rule"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await c.var.db
        .selectFrom("alert_rules")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirst();
      if (!row) throw new ApiError("not_found", `no alert rule with id ${id}`);
      return c.json(toRuleJson(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/alert-rules/{id}",
      summary: "Replace a label rule (admin)",
      request: {
        params: idPath,
        body: { required: true, content: { "application/json": { schema: ruleBody } } },
      },
      responses: {
        200: { description: "The rule", content: { "application/json": { schema: ruleJson } } },
        400: errorResponse("The body is invalid, or the name is taken"),
        404: errorResponse("No such rule"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      try {
        const row = await c.var.db
          .updateTable("alert_rules")
          .set({ ...body, selector: JSON.stringify(body.selector), updated_at: new Date() })
          .where("id", "=", id)
          .returningAll()
          .executeTakeFirst();
        if (!row) throw new ApiError("not_found", `no alert rule with id ${id}`);
        return c.json(toRuleJson(row), 200);
      } catch (error) {
        if (isUniqueViolation(error))
          throw new ApiError("invalid_request", `name: a rule named "${body.name}" exists`);
        throw error;
      }
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/alert-rules/{id}",
      summary: "Delete a label rule (admin)",
      request: { params: idPath },
      responses: {
        204: { description: "Deleted" },
        400: errorResponse("A parameter is invalid"),
        404: errorResponse("No such rule"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const deleted = await c.var.db.deleteFrom("alert_rules").where("id", "=", id).executeTakeFirst();
      if (deleted.numDeletedRows === 0n) throw new ApiError("not_found", `no alert rule with id ${id}`);
      return c.body(null, 204);
    },
  );

  return app;
}
