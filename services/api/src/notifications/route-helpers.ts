// What the notification routes share: the error response, an id path, the unique-name check.
import { z } from "@hono/zod-openapi";
import { errorEnvelope } from "../http/api-error.ts";
import { idParam } from "../http/params.ts";

export const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: errorEnvelope } },
});

export const idPath = z.object({
  id: idParam.openapi({ param: { name: "id", in: "path" }, type: "integer" }),
});

export function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "23505";
}
