// /api/v1/agents: every host's services, their versions and whether they are alive.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/app-env.ts";
import type { AgentDirectory } from "./agent-registry.ts";

const agentJson = z
  .object({
    host: z.string(),
    service: z.enum(["collector", "watcher", "store", "api"]),
    version: z.string(),
    runtime: z.string().nullable(),
    runtime_api_version: z.string().optional().openapi({
      description:
        "The version of its runtime's API it speaks (`v1` or `v1alpha2` for runtime `cri`); absent when it has not said.",
    }),
    connected: z.boolean().openapi({ description: "Whether it reaches its runtime or database." }),
    started_at: z.string(),
    ts: z.string().openapi({ description: "When the service sent its last heartbeat." }),
    received_at: z.string(),
    interval_ms: z.number().int(),
    stale: z.boolean().openapi({ description: "No heartbeat for two intervals." }),
  })
  .openapi("Agent");

const listAgents = createRoute({
  method: "get",
  path: "/agents",
  summary: "Services of every host, from their heartbeats",
  responses: {
    200: {
      description: "Every service heard from since this api instance started",
      content: { "application/json": { schema: z.object({ data: z.array(agentJson) }) } },
    },
  },
});

export function agentRoutes(agents: AgentDirectory): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(listAgents, (c) => c.json({ data: agents.list(Date.now()) }, 200));
  return app;
}
