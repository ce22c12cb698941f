// GET /containers/{id}/stats/history and /hosts/{id}/stats/history: points with avg and max,
// the granularity and the tables used stated in the answer.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError, errorEnvelope } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { idParam } from "../http/params.ts";
import { historyQuery, resolveWindow } from "./range-params.ts";
import { CONTAINER_SERIES, HOST_SERIES, querySeries, type SeriesSpec } from "./series-query.ts";

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: errorEnvelope } },
});

const valueJson = z.object({ avg: z.number().nullable(), max: z.number().nullable().optional() });

function historyRoute(kind: "containers" | "hosts", spec: SeriesSpec) {
  const values = Object.fromEntries([...spec.gauges, ...spec.averagesOnly].map((name) => [name, valueJson]));
  return createRoute({
    method: "get",
    path: `/${kind}/{id}/stats/history`,
    summary: `History of one ${kind === "containers" ? "container" : "host"}: avg and max per step`,
    request: {
      params: z.object({ id: idParam.openapi({ param: { name: "id", in: "path" }, type: "integer" }) }),
      query: z.object(historyQuery),
    },
    responses: {
      200: {
        description: "Points oldest first; steps without samples are left out",
        content: {
          "application/json": {
            schema: z.object({
              id: z.number().int(),
              from: z.string(),
              to: z.string(),
              granularity: z
                .string()
                .openapi({ description: "raw, or the step (1m, 5m, 1h, 1d, or the one asked for)" }),
              sources: z.array(z.enum(["raw", "hourly", "daily"])),
              points: z.array(z.object({ ts: z.string(), samples: z.number().int(), ...values })),
            }),
          },
        },
      },
      400: errorResponse("A parameter is invalid"),
      404: errorResponse("No such container or host"),
    },
  });
}

export function historyRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });
  for (const [kind, spec, table] of [
    ["containers", CONTAINER_SERIES, "containers"],
    ["hosts", HOST_SERIES, "hosts"],
  ] as const) {
    app.openapi(historyRoute(kind, spec), async (c) => {
      const { id } = c.req.valid("param");
      const nowMs = Date.now();
      const window = resolveWindow(c.req.valid("query"), nowMs);
      const exists = await c.var.db.selectFrom(table).select("id").where("id", "=", id).executeTakeFirst();
      if (!exists)
        throw new ApiError("not_found", `no ${kind === "containers" ? "container" : "host"} with id ${id}`);
      const { points, sources } = await querySeries(c.var.db, spec, id, { ...window, nowMs });
      return c.json(
        {
          id,
          from: new Date(window.fromMs).toISOString(),
          to: new Date(window.toMs).toISOString(),
          granularity: window.granularity,
          sources,
          points,
        },
        200,
      );
    });
  }
  return app;
}
