// Sends a message a consumer could not use to `<prefix>.v1.deadletter.<service>`, with the
// reason, so nothing is silently dropped, and logs each kind of failure once per subject family.
import type { JetStreamClient } from "@nats-io/jetstream";
import { codecs } from "../codec/codecs.ts";
import type { Logger } from "../log/logger.ts";
import type { DeadletterMessage } from "../messages/deadletter-message.ts";
import type { ServiceName, Subjects } from "../subjects/subjects.ts";

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export interface DeadletterSink {
  send(subject: string, data: Uint8Array, reason: DeadletterMessage["reason"], detail: string): Promise<void>;
  /** Dead letters sent since start, by reason: exposed in logs and metrics. */
  readonly counts: Readonly<Record<DeadletterMessage["reason"], number>>;
}

export function createDeadletterSink(options: {
  js: JetStreamClient;
  subjects: Subjects;
  service: ServiceName;
  logger: Logger;
}): DeadletterSink {
  const counts = { invalid_json: 0, invalid_schema: 0, unprocessable: 0, too_old: 0 };
  const logged = new Set<string>();
  const target = options.subjects.deadletter(options.service);
  return {
    counts,
    async send(subject, data, reason, detail) {
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
      const encoded = codecs.deadletter.encode({
        v: 1,
        service: options.service,
        subject,
        reason,
        detail: detail.slice(0, 4000),
        payload,
        payload_encoding: payloadEncoding,
        ts: new Date().toISOString(),
      });
      if (!encoded.ok) throw new Error(`dead letter failed validation: ${encoded.detail}`);
      await options.js.publish(target, encoded.data);
    },
  };
}
