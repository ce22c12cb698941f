// Alert label rules (/alert-rules): settings for every container whose labels contain the
// rule's selector, unless the container has its own; among matching rules the highest priority
// wins, then the lowest id (the store's view alert_settings_in_effect). The store's engine
// picks changes up within seconds.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError, errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { idPath, NO_CONTROL_CHARACTERS, textParam } from "../http/params.ts";
import { withUniqueName } from "../http/unique-name.ts";
import { type AlertSettings, alertSettingsBody, alertSettingsJson } from "./alert-settings.ts";

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

export function alertRuleRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });

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
        400: errorDoc("The body is invalid, or the name is taken"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const row = await withUniqueName("rule", body.name, () =>
        c.var.db
          .insertInto("alert_rules")
          .values({ ...body, selector: JSON.stringify(body.selector) })
          .returningAll()
          .executeTakeFirstOrThrow(),
      );
      return c.json(toRuleJson(row), 201);
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
        400: errorDoc("A parameter is invalid"),
        404: errorDoc("No such rule"),
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
        400: errorDoc("The body is invalid, or the name is taken"),
        404: errorDoc("No such rule"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const row = await withUniqueName("rule", body.name, () =>
        c.var.db
          .updateTable("alert_rules")
          .set({ ...body, selector: JSON.stringify(body.selector), updated_at: new Date() })
          .where("id", "=", id)
          .returningAll()
          .executeTakeFirst(),
      );
      if (!row) throw new ApiError("not_found", `no alert rule with id ${id}`);
      return c.json(toRuleJson(row), 200);
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
        400: errorDoc("A parameter is invalid"),
        404: errorDoc("No such rule"),
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
