// GET /api/v1/containers/:id/inspect: the container as its runtime describes it now, asked of
// its host's watcher, rather than the record the store keeps (which the list and detail routes
// serve). No fallback here: a watcher that does not answer is a 503, and the client decides
// whether the stored record will do (the dashboard shows it, labeled as such).
import { containerInfo } from "@crowsnest/shared";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  containerRefPath,
  containerRefQuery,
  containerRefResponses,
  resolveContainerId,
} from "../containers/container-ref.ts";
import { ApiError, errorDoc } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import type { InspectClient } from "./watcher-inspect-client.ts";

const getInspect = createRoute({
  method: "get",
  path: "/containers/{id}/inspect",
  summary: "The container as its runtime describes it now, from its host's watcher",
  request: { params: containerRefPath, query: z.object(containerRefQuery) },
  responses: {
    200: {
      description: "The runtime's answer, in the bus contract's ContainerInfo shape",
      content: {
        "application/json": {
          schema: z.object({
            container_id: z.number().int(),
            host: z.string(),
            inspected_at: z
              .string()
              .openapi({ format: "date-time", description: "When the api had the answer." }),
            // The bus contract's own schema (packages/shared), so the two cannot disagree.
            container: containerInfo,
          }),
        },
      },
    },
    400: errorDoc("A parameter is invalid"),
    ...containerRefResponses,
    404: errorDoc("No such container, or it no longer exists on its host"),
    503: errorDoc("The host's watcher or container runtime is not answering"),
  },
});

export function inspectRoutes(inspector: InspectClient): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });
  app.openapi(getInspect, async (c) => {
    const id = await resolveContainerId(c.var.db, c.req.valid("param").id, c.req.valid("query").host);
    const container = await c.var.db
      .selectFrom("containers")
      .select(["host", "external_id"])
      .where("id", "=", id)
      .executeTakeFirst();
    if (!container) throw new ApiError("not_found", `no container with id ${id}`);
    const outcome = await inspector.inspect(container.host, container.external_id);
    if (!outcome.ok) {
      throw new ApiError(outcome.code === "bad_request" ? "invalid_request" : outcome.code, outcome.message);
    }
    return c.json(
      {
        container_id: id,
        host: container.host,
        inspected_at: new Date().toISOString(),
        container: outcome.container,
      },
      200,
    );
  });
  return app;
}
