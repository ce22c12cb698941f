// A container's own alert settings (GET/PUT/DELETE /containers/{id}/alerts/config), which win
// over every label rule. GET answers with the settings in effect and where they come from: its
// own row, the matching rule with the highest priority, or none (no alerting). What is in effect
// is read from the store's view alert_settings_in_effect, the definition its alert engine uses
// too, so the two never disagree. The store's engine picks changes up within seconds.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Kysely } from "kysely";
import {
  containerRefPath,
  containerRefQuery,
  containerRefResponses,
  resolveContainerId,
} from "../containers/container-ref.ts";
import type { ApiDatabase } from "../db/api-database.ts";
import { ApiError, errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { ALERT_DEFAULTS, alertSettingsBody, alertSettingsJson, pickSettings } from "./alert-settings.ts";

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

async function effectiveConfig(db: Kysely<ApiDatabase>, containerId: number) {
  const container = await db
    .selectFrom("containers")
    .select("id")
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
  const inEffect = await db
    .selectFrom("alert_settings_in_effect")
    .selectAll()
    .where("container_id", "=", containerId)
    .executeTakeFirst();
  if (!inEffect) {
    return {
      container_id: containerId,
      ...ALERT_DEFAULTS,
      enabled: false,
      source: "none" as const,
      rule: null,
      memory_alert_possible: memoryAlertPossible,
    };
  }
  return {
    container_id: containerId,
    ...pickSettings(inEffect),
    source: inEffect.source,
    rule:
      inEffect.source === "rule" ? { id: Number(inEffect.rule_id), name: inEffect.rule_name ?? "" } : null,
    memory_alert_possible: memoryAlertPossible,
  };
}

export function containerAlertConfigRoutes(): OpenAPIHono<AppEnv> {
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
        400: errorDoc("A parameter is invalid"),
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
        400: errorDoc("The body or a parameter is invalid"),
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
        400: errorDoc("A parameter is invalid"),
        ...containerRefResponses,
      },
    }),
    async (c) => {
      const id = await resolveContainerId(c.var.db, c.req.valid("param").id, c.req.valid("query").host);
      await c.var.db.deleteFrom("alert_configs").where("container_id", "=", id).execute();
      return c.json(await effectiveConfig(c.var.db, id), 200);
    },
  );

  return app;
}
