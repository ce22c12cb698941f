// A message a consumer could not use: `<prefix>.v1.deadletter.<service>`.
import { z } from "zod";
import { schemaVersion, timestamp } from "./common.ts";
import { serviceName } from "./heartbeat-message.ts";

export const deadletterMessage = z.object({
  v: schemaVersion,
  service: serviceName,
  /** Where the message was received. */
  subject: z.string(),
  /**
   * invalid_json / invalid_schema: the bytes are not a valid message; unprocessable: Postgres
   * refused it; too_old: a raw sample older than the store's raw retention.
   */
  reason: z.enum(["invalid_json", "invalid_schema", "unprocessable", "too_old"]),
  detail: z.string(),
  /**
   * The original bytes: UTF-8 text when they are valid UTF-8, else base64. Only their start
   * when `payload_truncated` (the whole would not fit in one NATS message with the rest).
   */
  payload: z.string(),
  payload_encoding: z.enum(["utf8", "base64"]),
  /** True when `payload` is cut short; the two fields below then describe the whole. */
  payload_truncated: z.boolean().optional(),
  /** The original payload's size in bytes (with `payload_truncated`). */
  payload_size_bytes: z.number().int().nonnegative().optional(),
  /** SHA-256 of the original bytes, lowercase hex (with `payload_truncated`). */
  payload_sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  ts: timestamp,
});
export type DeadletterMessage = z.infer<typeof deadletterMessage>;
export type DeadletterReason = DeadletterMessage["reason"];
