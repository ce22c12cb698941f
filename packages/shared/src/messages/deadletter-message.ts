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
  /** The original bytes: UTF-8 text when they are valid UTF-8, else base64. */
  payload: z.string(),
  payload_encoding: z.enum(["utf8", "base64"]),
  ts: timestamp,
});
export type DeadletterMessage = z.infer<typeof deadletterMessage>;
export type DeadletterReason = DeadletterMessage["reason"];
