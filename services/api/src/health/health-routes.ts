// Liveness and readiness: /healthz says the process serves requests; /readyz that it can
// reach Postgres and NATS, so a load balancer only sends traffic to instances that can answer.
import { OpenAPIHono } from "@hono/zod-openapi";
import { sql } from "kysely";
import type { AppEnv } from "../http/app-env.ts";
import { errorResponse } from "../http/error-handling.ts";

export interface ReadinessProbe {
  natsConnected(): boolean;
}

const DATABASE_CHECK_TIMEOUT_MS = 2000;

export function healthRoutes(probe: ReadinessProbe): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const database = await Promise.race([
      sql`SELECT 1`.execute(c.var.db).then(
        () => true,
        () => false,
      ),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), DATABASE_CHECK_TIMEOUT_MS).unref()),
    ]);
    const nats = probe.natsConnected();
    if (!database || !nats) {
      const down = [database ? null : "postgres", nats ? null : "nats"].filter((name) => name !== null);
      return errorResponse(c, "service_unavailable", `not ready: ${down.join(" and ")} unreachable`);
    }
    return c.json({ status: "ready", checks: { postgres: "ok", nats: "ok" } });
  });
  return app;
}
