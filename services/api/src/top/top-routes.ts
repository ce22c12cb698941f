// GET /api/v1/top: the heaviest containers by cpu, memory, network or block I/O.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { labelSelectorParam } from "../http/label-selector.ts";
import { limitParam, textParam } from "../http/params.ts";
import { queryTop, TOP_METRICS, TOP_PERIODS, type TopPeriod, unitOf } from "./top-query.ts";

const topRoute = createRoute({
  method: "get",
  path: "/top",
  summary: "Top consumers, ranked by absolute value with percent of limit alongside",
  request: {
    query: z.object({
      metric: z.enum(TOP_METRICS),
      period: z
        .enum(Object.keys(TOP_PERIODS) as [TopPeriod, ...TopPeriod[]])
        .optional()
        .openapi({ default: "now", description: "now: newest samples; else the average over the period." }),
      limit: limitParam({ default: 10, max: 100 }),
      host: textParam(253).optional(),
      label: labelSelectorParam.optional(),
    }),
  },
  responses: {
    200: {
      description: "Containers, heaviest first",
      content: {
        "application/json": {
          schema: z.object({
            metric: z.enum(TOP_METRICS),
            period: z.string(),
            unit: z
              .string()
              .openapi({ description: "percent_of_core (100 = one core), bytes, or bytes_per_second" }),
            from: z.string(),
            to: z.string(),
            data: z.array(
              z.object({
                rank: z.number().int(),
                container_id: z.number().int(),
                name: z.string(),
                host: z.string(),
                value: z.number(),
                max: z.number().nullable(),
                percent_of_limit: z.number().nullable().openapi({
                  description: "Of the CPU or memory limit; null without one, and for network and block I/O.",
                }),
                samples: z.number().int(),
              }),
            ),
          }),
        },
      },
    },
    400: errorDoc("A parameter is invalid"),
  },
});

export function topRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });
  app.openapi(topRoute, async (c) => {
    const query = c.req.valid("query");
    const period = query.period ?? "now";
    const result = await queryTop(c.var.db, {
      metric: query.metric,
      period,
      limit: query.limit,
      host: query.host,
      labels: query.label ?? [],
      nowMs: Date.now(),
    });
    return c.json(
      {
        metric: query.metric,
        period,
        unit: unitOf(query.metric),
        from: result.from,
        to: result.to,
        data: result.rows,
      },
      200,
    );
  });
  return app;
}
