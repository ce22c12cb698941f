// What each kind of notification channel is configured with. `settings` are shown back through
// the api; `secrets` are write-only (the api answers with the names of the secrets that are set,
// never their values, and nothing logs them).
import { z } from "zod";

export const CHANNEL_TYPES = ["webhook", "slack", "discord", "ntfy", "email"] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

const NO_CONTROL_CHARACTERS = /^[^\p{Cc}]*$/u;

const httpUrl = z
  .string()
  .max(2048)
  .refine((raw) => {
    const url = URL.parse(raw);
    return url !== null && (url.protocol === "http:" || url.protocol === "https:");
  }, "expected an http:// or https:// URL");

/** A header name as HTTP allows it, and not one the sender sets itself. */
const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/, "expected an HTTP header name")
  .refine(
    (name) => !RESERVED_HEADERS.has(name.toLowerCase()),
    "this header is set by Crowsnest (content-type, content-length, host, x-crowsnest-*)",
  );
const RESERVED_HEADERS = new Set(["content-type", "content-length", "host", "transfer-encoding"]);
const headerValue = z.string().max(4096).regex(NO_CONTROL_CHARACTERS, "must not contain control characters");
const emailAddress = z.email().max(254);

export const channelSettingsSchemas = {
  webhook: z.object({ url: httpUrl }).strict(),
  slack: z.object({}).strict(),
  discord: z.object({}).strict(),
  ntfy: z
    .object({
      server_url: httpUrl.default("https://ntfy.sh"),
    })
    .strict(),
  email: z
    .object({
      host: z.string().min(1).max(253).regex(NO_CONTROL_CHARACTERS, "must not contain control characters"),
      port: z.number().int().min(1).max(65_535).default(587),
      /** starttls: plain connection upgraded (port 587); tls: TLS from the start (465); none: never encrypted. */
      security: z.enum(["starttls", "tls", "none"]).default("starttls"),
      username: z.string().max(254).regex(NO_CONTROL_CHARACTERS).optional(),
      from: emailAddress,
      to: z.array(emailAddress).min(1).max(50),
      /** PEM certificate(s) to trust besides the system's, e.g. an internal relay's own CA. */
      ca_pem: z.string().max(20_000).startsWith("-----BEGIN CERTIFICATE-----").optional(),
    })
    .strict(),
} as const;

export const channelSecretsSchemas = {
  webhook: z
    .object({
      /** Signs each body: `X-Crowsnest-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
      hmac_secret: z.string().min(16).max(256).optional(),
      /** Sent with every request (e.g. an Authorization header the receiver wants). */
      headers: z
        .record(headerName, headerValue)
        .refine((headers) => Object.keys(headers).length <= 20, "at most 20 headers")
        .refine(
          (headers) => Object.keys(headers).every((name) => !name.toLowerCase().startsWith("x-crowsnest-")),
          "x-crowsnest-* headers are set by Crowsnest",
        )
        .optional(),
    })
    .strict(),
  slack: z.object({ webhook_url: httpUrl }).strict(),
  discord: z.object({ webhook_url: httpUrl }).strict(),
  ntfy: z
    .object({
      topic: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected an ntfy topic (letters, digits, _ and -)"),
      token: z.string().min(1).max(512).regex(NO_CONTROL_CHARACTERS).optional(),
    })
    .strict(),
  email: z.object({ password: z.string().min(1).max(512).optional() }).strict(),
} as const;

export type ChannelSettings<T extends ChannelType = ChannelType> = z.infer<
  (typeof channelSettingsSchemas)[T]
>;
export type ChannelSecrets<T extends ChannelType = ChannelType> = z.infer<(typeof channelSecretsSchemas)[T]>;

/** A channel as the sender needs it: what the database holds, secrets included. */
export type ChannelTarget = {
  [T in ChannelType]: {
    id: number;
    name: string;
    type: T;
    settings: ChannelSettings<T>;
    secrets: ChannelSecrets<T>;
  };
}[ChannelType];

/**
 * Validates stored (or submitted) settings and secrets of a channel of `type`; the error
 * message names the field and never echoes a secret's value.
 */
export function parseChannelTarget(row: {
  id: number;
  name: string;
  type: string;
  settings: unknown;
  secrets: unknown;
}): { ok: true; target: ChannelTarget } | { ok: false; detail: string } {
  if (!(CHANNEL_TYPES as readonly string[]).includes(row.type)) {
    return { ok: false, detail: `unknown channel type ${JSON.stringify(row.type)}` };
  }
  const type = row.type as ChannelType;
  const settings = channelSettingsSchemas[type].safeParse(row.settings);
  if (!settings.success) return { ok: false, detail: `settings: ${issuePaths(settings.error)}` };
  const secrets = channelSecretsSchemas[type].safeParse(row.secrets);
  if (!secrets.success) return { ok: false, detail: `secrets: ${issuePaths(secrets.error)}` };
  return {
    ok: true,
    target: {
      id: row.id,
      name: row.name,
      type,
      settings: settings.data,
      secrets: secrets.data,
    } as ChannelTarget,
  };
}

/** Field paths and messages only: a secret's value is never part of the detail. */
export function issuePaths(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}
