// Sends one notification to one channel and reports the channel's answer. Never throws: every
// outcome is a result, so the caller records it in the delivery log. No secret ever goes into an
// answer (network errors name only the error code, never the URL).
import type { ChannelTarget } from "./channel-config.ts";
import { httpRequestFor } from "./channel-formats.ts";
import type { Notification } from "./notification.ts";

export interface SendResult {
  ok: boolean;
  /** Retrying cannot help (the channel refused the request itself, e.g. 400, 401, 404). */
  permanent: boolean;
  /** What the channel answered, or why it could not be reached; at most 500 characters. */
  answer: string;
}

/** Sends email; given to the sender so the HTTP paths need no SMTP code. */
export type EmailTransport = (
  target: Extract<ChannelTarget, { type: "email" }>,
  notification: Notification,
  timeoutMs: number,
) => Promise<SendResult>;

export interface SendOptions {
  timeoutMs: number;
  email: EmailTransport;
  now?: () => number;
}

const MAX_ANSWER_CHARS = 500;
/** A client error retrying can fix: timeout, too early, rate limited. */
const RETRYABLE_4XX = new Set([408, 425, 429]);

export function truncateAnswer(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > MAX_ANSWER_CHARS ? `${flat.slice(0, MAX_ANSWER_CHARS - 1)}…` : flat;
}

/** A network failure described by its code and message only: fetch's errors carry no URL, but be sure. */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "no answer within the timeout";
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: unknown } | null)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return truncateAnswer(
    `${typeof code === "string" ? `${code}: ` : ""}${message.replace(/\bhttps?:\/\/\S+/g, "<url>")}`,
  );
}

export async function sendNotification(
  target: ChannelTarget,
  notification: Notification,
  options: SendOptions,
): Promise<SendResult> {
  if (target.type === "email") return options.email(target, notification, options.timeoutMs);
  const request = httpRequestFor(target, notification, (options.now ?? Date.now)());
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      // A redirect could send the body (and headers) somewhere the admin never configured.
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    return {
      ok: false,
      permanent: false,
      answer: `could not reach the channel: ${describeNetworkError(error)}`,
    };
  }
  let text = "";
  try {
    text = await response.text();
  } catch (error) {
    text = `(body unreadable: ${describeNetworkError(error)})`;
  }
  const answer = truncateAnswer(`HTTP ${response.status}${text ? `: ${text}` : ""}`);
  if (response.status >= 200 && response.status < 300) return { ok: true, permanent: false, answer };
  // A redirect is refused (never followed) and would be refused again: as final as a 4xx.
  const permanent =
    (response.status >= 300 && response.status < 400) ||
    (response.status >= 400 && response.status < 500 && !RETRYABLE_4XX.has(response.status));
  return { ok: false, permanent, answer };
}
