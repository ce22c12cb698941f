// A dead letter always fits in one NATS message, and says so when it carries only the start of
// what was refused: whatever the bytes (escapes, multi-byte characters, binary), the server's
// max payload is never exceeded and the start is exactly the original's.
import { createHash } from "node:crypto";
import type { JetStreamClient, JetStreamPublishOptions } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { codecs } from "../codec/codecs.ts";
import { createLogger } from "../log/logger.ts";
import type { DeadletterMessage } from "../messages/deadletter-message.ts";
import { createSubjects } from "../subjects/subjects.ts";
import { createDeadletterSink } from "./deadletter.ts";

const SUBJECT = "crowsnest.v1.stats.node-1.docker.web";

/**
 * Sends `data` through a sink whose server allows `maxPayloadBytes`; returns what it published
 * and its size on the wire: the payload and the header carrying the message id.
 */
async function deadletter(data: Uint8Array, maxPayloadBytes: number) {
  const published: { payload: Uint8Array; headerBytes: number }[] = [];
  const js = {
    publish: async (_subject: string, payload: Uint8Array, options: Partial<JetStreamPublishOptions>) => {
      const header = options.msgID === undefined ? "" : `NATS/1.0\r\nNats-Msg-Id: ${options.msgID}\r\n\r\n`;
      published.push({ payload, headerBytes: Buffer.byteLength(header) });
    },
  } as unknown as JetStreamClient; // only publish is used
  const sink = createDeadletterSink({
    js,
    nc: { info: { max_payload: maxPayloadBytes } },
    subjects: createSubjects("crowsnest"),
    service: "store",
    logger: createLogger({ service: "store", level: "silent" }),
  });
  await sink.send(SUBJECT, data, "invalid_json", "Unexpected token", "CROWSNEST_TELEMETRY/123456789");
  const [sent] = published;
  if (!sent) throw new Error("nothing published");
  const decoded = codecs.deadletter.decode(sent.payload);
  if (!decoded.ok) throw new Error(decoded.detail);
  return { size: sent.payload.length + sent.headerBytes, letter: decoded.value };
}

function originalStart(letter: DeadletterMessage): Buffer {
  return Buffer.from(letter.payload, letter.payload_encoding === "base64" ? "base64" : "utf8");
}

describe("dead letters", () => {
  it("carries a payload that fits whole, as it is", async () => {
    const { letter } = await deadletter(new TextEncoder().encode('{"v":1,"é":"\\u0001"}'), 1024 * 1024);
    expect(letter).toMatchObject({ payload: '{"v":1,"é":"\\u0001"}', payload_encoding: "utf8" });
    expect(letter.payload_truncated).toBeUndefined();
    expect(letter.payload_size_bytes).toBeUndefined();
  });

  const texts: Record<string, string> = {
    "plain ASCII": "x".repeat(5000),
    "quotes and backslashes (escaped: twice as long)": '"\\'.repeat(3000),
    "control characters (escaped: six times as long)": "\u0001\n".repeat(3000),
    "multi-byte characters": "é€😀".repeat(1000),
    mixed: 'a"é\u0002😀\\'.repeat(800),
  };

  for (const [kind, text] of Object.entries(texts)) {
    it(`cuts UTF-8 text between characters to fit the max payload: ${kind}`, async () => {
      const data = new TextEncoder().encode(text);
      for (const maxPayloadBytes of [1200, 2000, 4096, 4097, 4099]) {
        const { size, letter } = await deadletter(data, maxPayloadBytes);
        expect(size).toBeLessThanOrEqual(maxPayloadBytes);
        expect(letter.payload_encoding).toBe("utf8");
        expect(letter.payload_truncated).toBe(true);
        expect(letter.payload_size_bytes).toBe(data.length);
        expect(letter.payload_sha256).toBe(createHash("sha256").update(data).digest("hex"));
        expect(text.startsWith(letter.payload)).toBe(true);
        // Nearly all the room is used: what is left is the header's margin and less than one
        // escaped character.
        expect(maxPayloadBytes - size).toBeLessThan(64 + 12);
      }
    });
  }

  it("cuts binary bytes, sent as base64, to fit the max payload", async () => {
    const data = new Uint8Array(800_000).map((_, index) => (index * 131 + 255) % 256);
    const { size, letter } = await deadletter(data, 1024 * 1024);
    expect(size).toBeLessThanOrEqual(1024 * 1024);
    expect(letter).toMatchObject({
      payload_encoding: "base64",
      payload_truncated: true,
      payload_size_bytes: 800_000,
    });
    const start = originalStart(letter);
    expect(start.length).toBeGreaterThan(700_000);
    expect(start.equals(Buffer.from(data.subarray(0, start.length)))).toBe(true);
  });
});
