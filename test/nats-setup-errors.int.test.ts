// A service whose NATS TLS or credentials can never work exits 1 with one fatal JSON line that
// names the setting to fix, instead of retrying forever; a server that is merely not up yet is
// still waited for. The same once it ran: a server that comes back with a certificate the
// service does not trust, or requiring a client certificate it lacks, is refused twice in a row
// (each logged as an error with its code) and the service exits 1 the same way. Shown with the
// collector as it ships (every service opens the bus and exits on its loss the same way; the
// store's and the api's fatal tests show credentials refused while they run) against private
// nats-servers with certificates the test makes with openssl.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type LoopbackCertificate,
  type TestCertificateAuthority,
  testCertificateAuthority,
} from "./support/loopback-certificate.ts";
import {
  createPrivateNatsServer,
  type PrivateNatsServer,
  type PrivateNatsTls,
} from "./support/private-nats-server.ts";
import { type ServiceProcess, startService } from "./support/service-process.ts";
import { testSubjectPrefix } from "./support/test-env.ts";

describe("a NATS setup that cannot work", () => {
  let directory: string;
  let ca: TestCertificateAuthority;
  let stranger: TestCertificateAuthority;
  let client: LoopbackCertificate;
  let mutual: PrivateNatsServer;
  let mutualTls: PrivateNatsTls;
  let misnamed: PrivateNatsServer;
  let tokenOnly: PrivateNatsServer;
  let collector: ServiceProcess | undefined;
  const prefix = testSubjectPrefix();

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "crowsnest-nats-setup-"));
    ca = testCertificateAuthority(directory, "crowsnest");
    stranger = testCertificateAuthority(directory, "stranger");
    const server = ca.issue("server", "IP:127.0.0.1,DNS:localhost");
    const otherName = ca.issue("misnamed", "DNS:nats.other.example");
    client = ca.issue("client", "DNS:crowsnest-agent");
    // Requires client certificates; started by the first test, after the collector.
    mutual = await createPrivateNatsServer();
    misnamed = await createPrivateNatsServer();
    await misnamed.start({ tls: { certFile: otherName.certPath, keyFile: otherName.keyPath } });
    tokenOnly = await createPrivateNatsServer();
    await tokenOnly.start({ token: "the-right-token" });
    mutualTls = { certFile: server.certPath, keyFile: server.keyPath, verifyClientsCa: ca.certPath };
  });

  afterAll(async () => {
    await collector?.stop();
    await Promise.all([mutual?.dispose(), misnamed?.dispose(), tokenOnly?.dispose()]);
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  const start = (env: Record<string, string>) => {
    collector = startService("collector", {
      CROWSNEST_HOST_NAME: "nats-setup-host",
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_LOG_LEVEL: "info",
      ...env,
    });
    return collector;
  };

  /** The process exits 1 having logged exactly one fatal line, with this code and words. */
  const expectOneFatalLine = async (process: ServiceProcess, code: string, words: string) => {
    expect(await process.exited).toBe(1);
    const fatal = process.logs.filter((record) => record.level === "fatal");
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ code });
    expect(fatal[0]?.msg).toContain(words);
    expect(process.logs.some((record) => record.msg === "connected to NATS")).toBe(false);
    expect(process.otherOutput).toEqual([]);
  };

  it("waits for a server that is not up yet, then connects over TLS with its client certificate", async () => {
    const waiting = start({
      CROWSNEST_NATS_URL: mutual.url,
      CROWSNEST_NATS_TLS_CA_FILE: ca.certPath,
      CROWSNEST_NATS_TLS_CERT_FILE: client.certPath,
      CROWSNEST_NATS_TLS_KEY_FILE: client.keyPath,
    });
    await waiting.waitForLog((record) => record.msg.startsWith("cannot connect to NATS yet"), 30_000);
    await mutual.start({ tls: mutualTls });
    await waiting.waitForLog((record) => record.msg === "connected to NATS", 30_000);
    expect(await waiting.stop()).toBe(0);
    expect(waiting.logs.filter((record) => record.level === "fatal")).toEqual([]);
  }, 90_000);

  it("exits when the server's certificate is not signed by the configured CA", async () => {
    const refused = start({
      CROWSNEST_NATS_URL: mutual.url,
      CROWSNEST_NATS_TLS_CA_FILE: stranger.certPath,
      CROWSNEST_NATS_TLS_CERT_FILE: client.certPath,
      CROWSNEST_NATS_TLS_KEY_FILE: client.keyPath,
    });
    await expectOneFatalLine(
      refused,
      "nats_tls",
      `is not signed by the CA in CROWSNEST_NATS_TLS_CA_FILE (${stranger.certPath})`,
    );
  }, 90_000);

  it("exits when the server's certificate names another host", async () => {
    const refused = start({ CROWSNEST_NATS_URL: misnamed.url, CROWSNEST_NATS_TLS_CA_FILE: ca.certPath });
    await expectOneFatalLine(refused, "nats_tls", "does not name the host this service connects to");
  }, 90_000);

  it("exits when the server requires a client certificate and none is configured", async () => {
    const refused = start({ CROWSNEST_NATS_URL: mutual.url, CROWSNEST_NATS_TLS_CA_FILE: ca.certPath });
    await expectOneFatalLine(
      refused,
      "nats_tls",
      "CROWSNEST_NATS_TLS_CERT_FILE and CROWSNEST_NATS_TLS_KEY_FILE",
    );
  }, 90_000);

  it("exits when the server refuses its credentials", async () => {
    const refused = start({ CROWSNEST_NATS_URL: tokenOnly.url, CROWSNEST_NATS_TOKEN: "a-wrong-token" });
    await expectOneFatalLine(refused, "nats_auth", "refused this service's credentials");
  }, 90_000);
});

describe("a NATS setup that stops working while the service runs", () => {
  let directory: string;
  let ca: TestCertificateAuthority;
  let stranger: TestCertificateAuthority;
  let server: LoopbackCertificate;
  let nats: PrivateNatsServer;
  let collector: ServiceProcess | undefined;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "crowsnest-nats-refused-"));
    ca = testCertificateAuthority(directory, "crowsnest");
    stranger = testCertificateAuthority(directory, "stranger");
    server = ca.issue("server", "IP:127.0.0.1,DNS:localhost");
  });

  beforeEach(async () => {
    nats = await createPrivateNatsServer();
    await nats.start({ tls: { certFile: server.certPath, keyFile: server.keyPath } });
  });

  afterEach(async () => {
    await collector?.stop();
    await nats?.dispose();
  });

  afterAll(async () => {
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  /** A collector connected over TLS, verifying the server against the test's CA. */
  const connectedCollector = async () => {
    collector = startService("collector", {
      CROWSNEST_HOST_NAME: "nats-refused-host",
      CROWSNEST_SUBJECT_PREFIX: testSubjectPrefix(),
      CROWSNEST_LOG_LEVEL: "info",
      CROWSNEST_NATS_URL: nats.url,
      CROWSNEST_NATS_TLS_CA_FILE: ca.certPath,
    });
    // Started: its streams are set up and it watches its connection.
    await collector.waitForLog((record) => record.msg === "collecting", 60_000);
    return collector;
  };

  /** Refused twice in a row, each an error line with the code; then exit 1 with one fatal line saying it. */
  const expectRefusedTwiceThenExit = async (process: ServiceProcess, code: string, words: string) => {
    expect(await process.exited).toBe(1);
    const refusals = process.logs.filter((record) => record.level === "error" && record.code === code);
    // Each refusal is logged with its count; it exits on the second in a row. A failure that may
    // pass between two refusals (an attempt timing out on a loaded machine) starts the count over,
    // so earlier lone refusals may precede the pair.
    const counts = refusals.map((record) => record.refusals_in_a_row);
    expect(counts.slice(-2)).toEqual([1, 2]);
    expect(counts.slice(0, -2).every((count) => count === 1)).toBe(true);
    for (const refusal of refusals) expect(refusal.msg).toContain(words);
    const fatal = process.logs.filter((record) => record.level === "fatal");
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ code });
    expect(fatal[0]?.msg).toMatch(/^NATS connection refused for good: /);
    expect(fatal[0]?.msg).toContain(words);
    expect(fatal[0]?.msg).toMatch(/; exiting so that collector is restarted$/);
    expect(process.otherOutput).toEqual([]);
  };

  it("exits once the server comes back with a certificate its CA did not sign", async () => {
    const running = await connectedCollector();
    const rotated = stranger.issue("rotated-server", "IP:127.0.0.1,DNS:localhost");
    await nats.start({ tls: { certFile: rotated.certPath, keyFile: rotated.keyPath } });
    await expectRefusedTwiceThenExit(
      running,
      "nats_tls",
      `is not signed by the CA in CROWSNEST_NATS_TLS_CA_FILE (${ca.certPath})`,
    );
  }, 180_000);

  it("exits once the server comes back requiring a client certificate it does not have", async () => {
    const running = await connectedCollector();
    await nats.start({
      tls: { certFile: server.certPath, keyFile: server.keyPath, verifyClientsCa: ca.certPath },
    });
    await expectRefusedTwiceThenExit(
      running,
      "nats_tls",
      "CROWSNEST_NATS_TLS_CERT_FILE and CROWSNEST_NATS_TLS_KEY_FILE",
    );
  }, 180_000);
});
