// What the notification routes share: the error response, an id path, the unique-name check.
import { z } from "@hono/zod-openapi";
import { ApiError, errorEnvelope } from "../http/api-error.ts";
import { idParam } from "../http/params.ts";

export const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: errorEnvelope } },
});

export const idPath = z.object({
  id: idParam.openapi({ param: { name: "id", in: "path" }, type: "integer" }),
});

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "23505";
}

/** Runs a write of a named thing; a name already taken is a 400 naming it, not a database error. */
export async function withUniqueName<T>(what: string, name: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error))
      throw new ApiError("invalid_request", `name: a ${what} named "${name}" exists`);
    throw error;
  }
}
