// JSON codec that validates both ways. Decoding never throws: a consumer loop gets a typed
// failure it can count and dead-letter, and goes on with the next message.
import type { z } from "zod";

export type DecodeFailureReason = "invalid_json" | "invalid_schema";

export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: DecodeFailureReason; readonly detail: string };

export type EncodeResult =
  | { readonly ok: true; readonly data: Uint8Array }
  | { readonly ok: false; readonly detail: string };

export interface MessageCodec<In, Out> {
  encode(value: In): EncodeResult;
  decode(data: Uint8Array): DecodeResult<Out>;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** At most this many issues are spelled out, so a huge bad message makes a short log line. */
const MAX_ISSUES_DESCRIBED = 5;

export function describeIssues(error: z.ZodError): string {
  const described = error.issues.slice(0, MAX_ISSUES_DESCRIBED).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join(".") : "(root)";
    return `${path}: ${issue.message}`;
  });
  const more = error.issues.length - described.length;
  return more > 0 ? `${described.join("; ")}; and ${more} more` : described.join("; ");
}

export function createCodec<S extends z.ZodType>(schema: S): MessageCodec<z.input<S>, z.output<S>> {
  return {
    encode(value) {
      const parsed = schema.safeParse(value);
      if (!parsed.success) return { ok: false, detail: describeIssues(parsed.error) };
      return { ok: true, data: utf8Encoder.encode(JSON.stringify(parsed.data)) };
    },
    decode(data) {
      let json: unknown;
      try {
        json = JSON.parse(utf8Decoder.decode(data));
      } catch (error) {
        return { ok: false, reason: "invalid_json", detail: (error as Error).message };
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        return { ok: false, reason: "invalid_schema", detail: describeIssues(parsed.error) };
      }
      return { ok: true, value: parsed.data };
    },
  };
}
