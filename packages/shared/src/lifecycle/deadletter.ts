// Sends a message a consumer could not use to `<prefix>.v1.deadletter.<service>`, with the
// reason, so nothing is silently dropped, and logs each kind of failure once per subject family.
// A dead letter always fits in one NATS message: when the original bytes would not (a message
// near the server's max payload, or binary bytes that base64 grows by a third), it carries
// their start, their size and their SHA-256.
import { createHash } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import { codecs } from "../codec/codecs.ts";
import type { Logger } from "../log/logger.ts";
import type { DeadletterMessage } from "../messages/deadletter-message.ts";
import type { ServiceName, Subjects } from "../subjects/subjects.ts";

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
/** nats-server's default max_payload, for when the connection has not told the server's. */
const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

export interface DeadletterSink {
  /**
   * `messageId`, when the refused message came from a stream: one id per refused message (its
   * stream and sequence), sent as the JetStream message id, so a second dead letter of the same
   * message (a redelivery, another instance) within the duplicate window is dropped.
   */
  send(
    subject: string,
    data: Uint8Array,
    reason: DeadletterMessage["reason"],
    detail: string,
    messageId?: string,
  ): Promise<void>;
  /** Dead letters sent since start, by reason: exposed in logs and metrics. */
  readonly counts: Readonly<Record<DeadletterMessage["reason"], number>>;
}

/** A count of zero for every dead-letter reason. */
export function zeroDeadletterCounts(): Record<DeadletterMessage["reason"], number> {
  return { invalid_json: 0, invalid_schema: 0, unprocessable: 0, too_old: 0, subject_mismatch: 0 };
}

export function createDeadletterSink(options: {
  js: JetStreamClient;
  /** The connection `js` uses (a NatsConnection): its server's max payload bounds a dead letter's size. */
  nc?: { readonly info?: { readonly max_payload: number } | undefined };
  subjects: Subjects;
  service: ServiceName;
  logger: Logger;
}): DeadletterSink {
  const counts = zeroDeadletterCounts();
  const logged = new Set<string>();
  const target = options.subjects.deadletter(options.service);
  return {
    counts,
    async send(subject, data, reason, detail, messageId) {
      counts[reason] += 1;
      const family = subject.split(".").slice(0, 3).join(".");
      const key = `${reason} ${family}`;
      if (!logged.has(key)) {
        logged.add(key);
        options.logger.warn(
          { subject, reason, detail, deadletter_subject: target },
          "rejected a message; sent to dead letters (logged once per kind)",
        );
      }
      let payload: string;
      let payloadEncoding: DeadletterMessage["payload_encoding"];
      try {
        payload = utf8Decoder.decode(data);
        payloadEncoding = "utf8";
      } catch {
        payload = Buffer.from(data).toString("base64");
        payloadEncoding = "base64";
      }
      const message: DeadletterMessage = {
        v: 1,
        service: options.service,
        subject,
        reason,
        detail: detail.slice(0, 4000),
        payload,
        payload_encoding: payloadEncoding,
        ts: new Date().toISOString(),
      };
      // The message id travels as a header (`NATS/1.0\r\nNats-Msg-Id: <id>\r\n\r\n`, 27 bytes
      // and the id), which counts towards the max payload too: room is kept for it, generously.
      const headerBytes = messageId === undefined ? 0 : 64 + Buffer.byteLength(messageId);
      const maxBytes = (options.nc?.info?.max_payload ?? DEFAULT_MAX_PAYLOAD_BYTES) - headerBytes;
      let encoded = codecs.deadletter.encode(message);
      if (encoded.ok && encoded.data.length > maxBytes) {
        encoded = codecs.deadletter.encode(truncated(message, data, maxBytes));
      }
      if (!encoded.ok) throw new Error(`dead letter failed validation: ${encoded.detail}`);
      await options.js.publish(target, encoded.data, messageId === undefined ? {} : { msgID: messageId });
    },
  };
}

/** The dead letter with as much of the payload's start as fits in `maxBytes` of JSON. */
function truncated(message: DeadletterMessage, data: Uint8Array, maxBytes: number): DeadletterMessage {
  const cut: DeadletterMessage = {
    ...message,
    payload: "",
    payload_truncated: true,
    payload_size_bytes: data.length,
    payload_sha256: createHash("sha256").update(data).digest("hex"),
  };
  const budgetBytes = maxBytes - Buffer.byteLength(JSON.stringify(cut));
  if (budgetBytes <= 0) return cut;
  cut.payload =
    message.payload_encoding === "base64"
      ? Buffer.from(data.subarray(0, Math.floor(budgetBytes / 4) * 3)).toString("base64")
      : utf8Prefix(data, budgetBytes);
  return cut;
}

/** The longest start of valid UTF-8 `data`, cut between characters, whose JSON string form fits `budgetBytes`. */
function utf8Prefix(data: Uint8Array, budgetBytes: number): string {
  const prefix = (end: number) => {
    // Not inside a character: continuation bytes are 10xxxxxx.
    while (end > 0 && end < data.length && ((data[end] ?? 0) & 0xc0) === 0x80) end -= 1;
    return utf8Decoder.decode(data.subarray(0, end));
  };
  // Escapes (quotes, backslashes, control characters) make the JSON form longer than the
  // bytes, by a factor that varies along the text: binary search on the cut (about 20 rounds
  // for a megabyte, on a rare path).
  const fits = (text: string) => Buffer.byteLength(JSON.stringify(text)) - 2 <= budgetBytes;
  let tooLong = Math.min(data.length, budgetBytes);
  if (fits(prefix(tooLong))) return prefix(tooLong);
  let fitting = 0;
  while (tooLong - fitting > 1) {
    const middle = Math.floor((fitting + tooLong) / 2);
    if (fits(prefix(middle))) fitting = middle;
    else tooLong = middle;
  }
  return prefix(fitting);
}
