// GET /metrics: Prometheus exposition (needs a read token like every data route).
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/app-env.ts";
import type { ApiMetrics } from "./api-metrics.ts";

export function metricsRoutes(metrics: ApiMetrics): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.get("/metrics", async (c) =>
    c.body(await metrics.render(), 200, { "Content-Type": metrics.registry.contentType }),
  );
  return app;
}
