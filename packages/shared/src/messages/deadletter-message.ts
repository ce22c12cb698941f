// A message a consumer could not use: `<prefix>.v1.deadletter.<service>`.
import { z } from "zod";
import { schemaVersion, timestamp } from "./common.ts";
import { serviceName } from "./heartbeat-message.ts";

export const deadletterMessage = z.object({
  v: schemaVersion,
  service: serviceName,
  subject: z.string().describe("Where the message was received."),
  reason: z
    .enum(["invalid_json", "invalid_schema", "unprocessable", "too_old", "subject_mismatch"])
    .describe(
      "invalid_json / invalid_schema: the bytes are not a valid message; unprocessable: Postgres refused it; too_old: a raw sample older than the store's raw retention; subject_mismatch: the payload's host, runtime, container (or event kind and action) differ from its subject's, which NATS permissions vouch for.",
    ),
  detail: z.string(),
  payload: z
    .string()
    .describe(
      "The original bytes: UTF-8 text when they are valid UTF-8, else base64. Only their start when `payload_truncated` (the whole would not fit in one NATS message with the rest).",
    ),
  payload_encoding: z.enum(["utf8", "base64"]),
  payload_truncated: z
    .boolean()
    .optional()
    .describe("True when `payload` is cut short; the two fields below then describe the whole."),
  payload_size_bytes: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe("The original payload's size in bytes (with `payload_truncated`)."),
  payload_sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional()
    .describe("SHA-256 of the original bytes, lowercase hex (with `payload_truncated`)."),
  ts: timestamp,
});
export type DeadletterMessage = z.infer<typeof deadletterMessage>;
export type DeadletterReason = DeadletterMessage["reason"];
