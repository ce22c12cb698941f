// Request parameter schemas shared by routes: ids, limits and opaque cursors, each with a
// precise message, so bad input is a 400 that says what was wrong.
import { z } from "@hono/zod-openapi";

/** A database id in a path: a positive integer without sign, exponent or leading zeros. */
export const idParam = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, "must be a positive integer id")
  .transform(Number)
  .refine((id) => Number.isSafeInteger(id), "must be a positive integer id");

export function limitParam(options: { default: number; max: number }) {
  return z
    .string()
    .regex(/^[0-9]{1,6}$/, `must be an integer from 1 to ${options.max}`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= options.max, `must be an integer from 1 to ${options.max}`)
    .optional()
    .transform((n) => n ?? options.default)
    .openapi({ type: "integer", minimum: 1, maximum: options.max, default: options.default });
}

export const booleanParam = z
  .enum(["true", "false"], { message: "must be true or false" })
  .transform((value) => value === "true");

/**
 * Opaque keyset cursors: base64url JSON. A cursor that does not decode, or does not match
 * `schema`, is a 400, never a database error.
 */
export function cursorParam<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .max(512, "is not a valid cursor")
    .transform((raw, ctx): z.output<T> => {
      try {
        const decoded = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as unknown;
        const parsed = schema.safeParse(decoded);
        if (parsed.success) return parsed.data;
      } catch {
        // Reported below as an invalid cursor.
      }
      ctx.addIssue({ code: "custom", message: "is not a valid cursor" });
      return z.NEVER;
    })
    .openapi({ type: "string", description: "Opaque cursor from a previous page's next_cursor." });
}

export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

/** Text without control characters (Unicode category Cc: NUL, newlines, escapes, DEL and the like). */
export const NO_CONTROL_CHARACTERS = /^\P{Cc}*$/u;

/**
 * Free text (names, hosts): at most `max` characters and no control characters. Postgres
 * cannot store NUL in text, and no container or host name contains a control character.
 */
export function textParam(max: number) {
  return z
    .string()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .regex(NO_CONTROL_CHARACTERS, "must not contain control characters");
}
