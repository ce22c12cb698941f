// Request parameter schemas shared by routes: ids, limits and opaque cursors, each with a
// precise message, so bad input is a 400 that says what was wrong.
import { z } from "@hono/zod-openapi";

/** A database id in a path: a positive integer without sign, exponent or leading zeros. */
export const idParam = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, "must be a positive integer id")
  .transform(Number)
  .refine((id) => Number.isSafeInteger(id), "must be a positive integer id");

/** The `{id}` of a path naming a row by its database id. */
export const idPath = z.object({
  id: idParam.openapi({ param: { name: "id", in: "path" }, type: "integer" }),
});

/** An optional integer from 1 to `max` in a query, written with at most `width` digits. */
export function boundedIntegerParam(max: number, width: number) {
  const message = `must be an integer from 1 to ${max}`;
  return z
    .string()
    .regex(new RegExp(`^[0-9]{1,${width}}$`), message)
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, message)
    .optional();
}

export function limitParam(options: { default: number; max: number }) {
  return boundedIntegerParam(options.max, 6)
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

/**
 * The instants the api accepts, in UTC: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.
 * Postgres timestamptz (4713 BC to 294276 AD) and JS Date (±275 760 years) both hold more, but
 * outside these years an instant has no four-digit RFC 3339 form (toISOString gives `0000-…`
 * or `+010000-…`), and Postgres refuses year 0000. `0001-01-01T00:00:00+01:00` is year 0000 in
 * UTC, so the bound applies to the instant, not to the text.
 */
export const MIN_TIMESTAMP_MS = Date.parse("0001-01-01T00:00:00.000Z");
export const MAX_TIMESTAMP_MS = Date.parse("9999-12-31T23:59:59.999Z");
const TIMESTAMP_RANGE_TEXT = "between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z";

/** An RFC 3339 timestamp with an offset (`Z` or `±hh:mm`) that Postgres and JS Date both hold. */
export const timestampParam = z.iso
  .datetime({ offset: true, message: "must be an RFC 3339 timestamp" })
  .refine((value) => {
    const ms = Date.parse(value);
    return ms >= MIN_TIMESTAMP_MS && ms <= MAX_TIMESTAMP_MS;
  }, `must be ${TIMESTAMP_RANGE_TEXT}`);

/** Newest-first keyset cursors on (ts, id), checked as strictly as the parameters they stand for. */
export const keysetCursorParam = cursorParam(
  z.object({
    before_ts: timestampParam,
    before_id: z.number().int().positive(),
  }),
);

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
