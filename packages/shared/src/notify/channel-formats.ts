// The request each HTTP-style channel gets for a notification: the generic webhook's documented
// JSON body (version 1), Slack's and Discord's incoming-webhook messages, ntfy's JSON publish.
import { createHmac } from "node:crypto";
import type { ChannelTarget } from "./channel-config.ts";
import { type Notification, renderText, type Severity } from "./notification.ts";

export interface HttpRequestSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
}

const SEVERITY_COLORS: Record<Severity, number> = { critical: 0xd73a49, warning: 0xf9a825, info: 0x2e7d32 };
const NTFY_PRIORITIES: Record<Severity, number> = { critical: 5, warning: 4, info: 3 };
const NTFY_TAGS: Record<Severity, string> = {
  critical: "rotating_light",
  warning: "warning",
  info: "white_check_mark",
};

function severity(notification: Notification): Severity {
  return notification.type === "test" ? "info" : notification.severity;
}

function link(notification: Notification): string | null {
  return notification.type === "test" ? null : notification.url;
}

/** `X-Crowsnest-Signature` over `<timestamp>.<body>`, so a captured request cannot be replayed later with a new time. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export function httpRequestFor(
  target: Exclude<ChannelTarget, { type: "email" }>,
  notification: Notification,
  nowMs: number,
): HttpRequestSpec {
  const json = { "content-type": "application/json" };
  const { title, lines } = renderText(notification);
  switch (target.type) {
    case "webhook": {
      const body = JSON.stringify(notification);
      const timestamp = String(Math.floor(nowMs / 1000));
      const headers: Record<string, string> = {
        ...target.secrets.headers,
        ...json,
        "x-crowsnest-event": notification.type,
        "x-crowsnest-timestamp": timestamp,
      };
      if (target.secrets.hmac_secret) {
        headers["x-crowsnest-signature"] = webhookSignature(target.secrets.hmac_secret, timestamp, body);
      }
      return { url: target.settings.url, headers, body };
    }
    case "slack": {
      const text = `*${title}*\n${lines.join("\n")}`;
      return {
        url: target.secrets.webhook_url,
        headers: json,
        body: JSON.stringify({ text, blocks: [{ type: "section", text: { type: "mrkdwn", text } }] }),
      };
    }
    case "discord": {
      const url = link(notification);
      return {
        url: target.secrets.webhook_url,
        headers: json,
        body: JSON.stringify({
          // No mentions: a container name must never ping @everyone.
          allowed_mentions: { parse: [] },
          embeds: [
            {
              title: title.slice(0, 256),
              description: lines.join("\n").slice(0, 4096),
              color: SEVERITY_COLORS[severity(notification)],
              timestamp: notification.ts,
              ...(url ? { url } : {}),
            },
          ],
        }),
      };
    }
    case "ntfy": {
      const url = link(notification);
      const headers: Record<string, string> = { ...json };
      if (target.secrets.token) headers.authorization = `Bearer ${target.secrets.token}`;
      return {
        // JSON publishing (to the server's root) carries any character in the title, unlike headers.
        url: new URL("/", target.settings.server_url).toString(),
        headers,
        body: JSON.stringify({
          topic: target.secrets.topic,
          title,
          message: lines.join("\n"),
          priority: NTFY_PRIORITIES[severity(notification)],
          tags: [NTFY_TAGS[severity(notification)]],
          ...(url ? { click: url } : {}),
        }),
      };
    }
  }
}
