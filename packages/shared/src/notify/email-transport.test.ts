// Email on a real SMTP server on loopback (smtp-server): STARTTLS and TLS with authentication,
// and the failures that must not send in clear or retry forever.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selfSignedLoopbackCertificate } from "../../../../test/support/loopback-certificate.ts";
import { type ChannelTarget, parseChannelTarget } from "./channel-config.ts";
import { smtpTransport } from "./email-transport.ts";
import type { AlertNotification } from "./notification.ts";

const PASSWORD = "smtp-password-never-shown";

const notification: AlertNotification = {
  v: 1,
  type: "alert_transition",
  transition_id: "5",
  ts: "2026-12-04T10:00:00.000Z",
  host: "node-1",
  runtime: "docker",
  container: { id: 7, name: "db", external_id: "x", labels: {} },
  metric: "restart_loop",
  change: "fired",
  severity: "critical",
  value: 5,
  threshold: 3,
  previous_state: "normal",
  new_state: "normal",
  fired_at: null,
  duration_s: null,
  url: null,
  folded: null,
};

interface Received {
  from: string | undefined;
  to: string[];
  data: string;
  secure: boolean;
  user: string | undefined;
}

async function startSmtp(
  options: SMTPServerOptions,
): Promise<{ server: SMTPServer; port: number; mails: Received[] }> {
  const mails: Received[] = [];
  const server = new SMTPServer({
    ...options,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === "alerts" && auth.password === PASSWORD)
        return callback(null, { user: auth.username });
      return callback(new Error("Invalid username or password"));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString("utf8"),
          secure: session.secure,
          user: typeof session.user === "string" ? session.user : undefined,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.server.address() as AddressInfo).port, mails };
}

describe("email over SMTP on a real loopback server", () => {
  let dir: string;
  let key: string;
  let cert: string;
  const servers: SMTPServer[] = [];

  const emailTarget = (settings: object, secrets: object = { password: PASSWORD }) => {
    const parsed = parseChannelTarget({ id: 1, name: "mail", type: "email", settings, secrets });
    if (!parsed.ok) throw new Error(parsed.detail);
    return parsed.target as Extract<ChannelTarget, { type: "email" }>;
  };
  const base = (port: number, extra: object = {}) => ({
    host: "127.0.0.1",
    port,
    username: "alerts",
    from: "crowsnest@example.test",
    to: ["ops@example.test", "oncall@example.test"],
    ca_pem: cert,
    ...extra,
  });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "crowsnest-smtp-"));
    const { keyPath, certPath } = selfSignedLoopbackCertificate(dir);
    key = readFileSync(keyPath, "utf8");
    cert = readFileSync(certPath, "utf8");
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends over STARTTLS, authenticated, with what, where, how much in subject and body", async () => {
    const smtp = await startSmtp({ key, cert });
    servers.push(smtp.server);
    const result = await smtpTransport(
      emailTarget(base(smtp.port, { security: "starttls" })),
      notification,
      5000,
    );
    expect(result).toMatchObject({ ok: true, permanent: false });
    expect(result.answer).toMatch(/^250 /);
    const [mail] = smtp.mails;
    expect(mail).toMatchObject({
      from: "crowsnest@example.test",
      to: ["ops@example.test", "oncall@example.test"],
      secure: true,
      user: "alerts",
    });
    expect(mail?.data).toContain("Subject: [FIRING] Restart loop on db @ node-1");
    expect(mail?.data).toContain("5 restarts (threshold 3)");
    expect(mail?.data).toContain("X-Crowsnest-Event: alert_transition");
  });

  it("sends over TLS from the start", async () => {
    const smtp = await startSmtp({ key, cert, secure: true });
    servers.push(smtp.server);
    const result = await smtpTransport(emailTarget(base(smtp.port, { security: "tls" })), notification, 5000);
    expect(result.ok).toBe(true);
    expect(smtp.mails[0]?.secure).toBe(true);
  });

  it("gives up on refused credentials without showing the password", async () => {
    const smtp = await startSmtp({ key, cert });
    servers.push(smtp.server);
    const result = await smtpTransport(
      emailTarget(base(smtp.port, { security: "starttls" }), { password: "wrong-password-value" }),
      notification,
      5000,
    );
    expect(result).toMatchObject({ ok: false, permanent: true });
    expect(result.answer).toMatch(/^535 /);
    expect(result.answer).not.toContain("wrong-password-value");
    expect(smtp.mails).toEqual([]);
  });

  it("never sends in clear when STARTTLS is required but not offered, nor to an untrusted certificate", async () => {
    const plain = await startSmtp({ hideSTARTTLS: true, allowInsecureAuth: true });
    servers.push(plain.server);
    const noTls = await smtpTransport(
      emailTarget(base(plain.port, { security: "starttls" })),
      notification,
      5000,
    );
    expect(noTls.ok).toBe(false);
    const untrusted = await startSmtp({ key, cert });
    servers.push(untrusted.server);
    const { ca_pem: _trusted, ...withoutCa } = base(untrusted.port, { security: "starttls" });
    const refused = await smtpTransport(emailTarget(withoutCa), notification, 5000);
    expect(refused).toMatchObject({ ok: false, permanent: false });
    expect(refused.answer).toMatch(/certificate/i);
    expect([...plain.mails, ...untrusted.mails]).toEqual([]);
  });
});
