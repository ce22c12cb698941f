// Email over SMTP (nodemailer): TLS from the start, STARTTLS required, or plain (for a relay on
// the same host); authenticated when the channel has a username. One connection per message:
// alert mail is rare enough that a pool would mostly hold idle sockets.
import nodemailer from "nodemailer";
import type { ChannelTarget } from "./channel-config.ts";
import {
  describeNetworkError,
  type EmailTransport,
  type SendResult,
  truncateAnswer,
} from "./channel-sender.ts";
import { type Notification, renderText } from "./notification.ts";

type EmailTarget = Extract<ChannelTarget, { type: "email" }>;

function failure(error: unknown): SendResult {
  const smtp = error as { responseCode?: unknown; response?: unknown };
  if (typeof smtp.responseCode === "number") {
    return {
      ok: false,
      // 5xx is the server's final word (bad credentials, unknown mailbox); 4xx says try later.
      permanent: smtp.responseCode >= 500,
      answer: truncateAnswer(typeof smtp.response === "string" ? smtp.response : `SMTP ${smtp.responseCode}`),
    };
  }
  return {
    ok: false,
    permanent: false,
    answer: `could not reach the mail server: ${describeNetworkError(error)}`,
  };
}

export const smtpTransport: EmailTransport = async (
  target: EmailTarget,
  notification: Notification,
  timeoutMs: number,
): Promise<SendResult> => {
  const { settings, secrets } = target;
  const transport = nodemailer.createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.security === "tls",
    requireTLS: settings.security === "starttls",
    ignoreTLS: settings.security === "none",
    ...(settings.username ? { auth: { user: settings.username, pass: secrets.password ?? "" } } : {}),
    ...(settings.ca_pem ? { tls: { ca: [settings.ca_pem] } } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  const { title, lines } = renderText(notification);
  try {
    const info = await transport.sendMail({
      from: settings.from,
      to: settings.to,
      subject: title,
      text: `${lines.join("\n")}\n`,
      headers: { "X-Crowsnest-Event": notification.type },
    });
    return { ok: true, permanent: false, answer: truncateAnswer(String(info.response)) };
  } catch (error) {
    return failure(error);
  } finally {
    transport.close();
  }
};
