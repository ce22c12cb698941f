// /api/v1/hosts: the hosts the collectors report from, and each one's newest sample.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Selectable } from "kysely";
import type { HostStatsView, HostsView } from "../db/api-database.ts";
import { ApiError, errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { idPath } from "../http/params.ts";

const hostJson = z
  .object({
    id: z.number().int(),
    name: z.string(),
    online_cpus: z.number().int().nullable(),
    mem_total: z.number().nullable(),
    first_seen: z.string(),
    last_seen: z.string(),
  })
  .openapi("Host");

const hostSampleJson = z
  .object({
    host_id: z.number().int(),
    ts: z.string(),
    cpu_percent: z.number().nullable().openapi({ description: "Busy share of all CPUs, 0–100." }),
    online_cpus: z.number().nullable(),
    mem_total: z.number().nullable(),
    mem_used: z.number().nullable(),
    mem_available: z.number().nullable(),
    load_1: z.number().nullable(),
    load_5: z.number().nullable(),
    load_15: z.number().nullable(),
    uptime_s: z.number().nullable(),
  })
  .openapi("HostSample");

const toHostJson = (row: Selectable<HostsView>) => ({
  ...row,
  first_seen: row.first_seen.toISOString(),
  last_seen: row.last_seen.toISOString(),
});
const toHostSampleJson = (row: Selectable<HostStatsView>) => ({ ...row, ts: row.ts.toISOString() });

const errors = {
  400: errorDoc("A parameter is invalid"),
  404: errorDoc("No such host"),
} as const;

export function hostRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });
  app.openapi(
    createRoute({
      method: "get",
      path: "/hosts",
      summary: "Hosts, by name",
      responses: {
        200: {
          description: "Every host",
          content: { "application/json": { schema: z.object({ data: z.array(hostJson) }) } },
        },
      },
    }),
    async (c) => {
      const rows = await c.var.db.selectFrom("hosts").selectAll().orderBy("name").execute();
      return c.json({ data: rows.map(toHostJson) }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/hosts/{id}",
      summary: "One host",
      request: { params: idPath },
      responses: {
        200: { description: "The host", content: { "application/json": { schema: hostJson } } },
        ...errors,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await c.var.db.selectFrom("hosts").selectAll().where("id", "=", id).executeTakeFirst();
      if (!row) throw new ApiError("not_found", `no host with id ${id}`);
      return c.json(toHostJson(row), 200);
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/hosts/{id}/stats/current",
      summary: "The host's newest sample",
      request: { params: idPath },
      responses: {
        200: {
          description: "The newest sample",
          content: { "application/json": { schema: hostSampleJson } },
        },
        ...errors,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const [host, sample] = await Promise.all([
        c.var.db.selectFrom("hosts").select("id").where("id", "=", id).executeTakeFirst(),
        c.var.db
          .selectFrom("host_stats")
          .selectAll()
          .where("host_id", "=", id)
          .orderBy("ts", "desc")
          .limit(1)
          .executeTakeFirst(),
      ]);
      if (!host) throw new ApiError("not_found", `no host with id ${id}`);
      if (!sample) throw new ApiError("no_data", `host ${id} has no samples yet`);
      return c.json(toHostSampleJson(sample), 200);
    },
  );
  return app;
}
