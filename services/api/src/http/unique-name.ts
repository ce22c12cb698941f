// Writes of things that have a unique name (alert rules, notification channels and routes): a
// name already taken is a 400 naming it, not a database error.
import { ApiError } from "./api-error.ts";

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "23505";
}

/** Runs a write of a named thing; a unique violation becomes a 400 `name: a <what> named "<name>" exists`. */
export async function withUniqueName<T>(what: string, name: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error))
      throw new ApiError("invalid_request", `name: a ${what} named "${name}" exists`);
    throw error;
  }
}
