// TLS toward NATS with certificates the test makes (openssl): the services verify the server
// against CROWSNEST_NATS_TLS_CA_FILE, present a client certificate when the server requires
// one, and a server signed by another CA is refused.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type LoopbackCertificate,
  selfSignedLoopbackCertificate,
} from "../../../../test/support/loopback-certificate.ts";
import { type NatsServers, startNatsServers } from "../../../../test/support/nats-servers.ts";
import { commonConfigFrom, commonEnv } from "../config/common-env.ts";
import { parseEnv } from "../config/env-spec.ts";
import { openBus } from "./bus.ts";
import { natsTlsOptions } from "./nats-connection.ts";

const logger = pino({ level: "silent" });

describe("TLS toward NATS", () => {
  let directory: string;
  let server: LoopbackCertificate;
  let stranger: LoopbackCertificate;
  let serverOnly: NatsServers;
  let mutual: NatsServers;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "crowsnest-nats-tls-"));
    const make = async (name: string) => {
      const path = join(directory, name);
      await mkdir(path);
      return selfSignedLoopbackCertificate(path);
    };
    server = await make("server");
    stranger = await make("stranger");
    const tls = (verify: boolean) =>
      `tls { cert_file: "${server.certPath}", key_file: "${server.keyPath}", ca_file: "${server.certPath}", verify: ${verify} }`;
    serverOnly = await startNatsServers({ count: 1, extraConfig: tls(false), scheme: "tls" });
    mutual = await startNatsServers({ count: 1, extraConfig: tls(true), scheme: "tls" });
  }, 60_000);

  afterAll(async () => {
    await serverOnly?.remove();
    await mutual?.remove();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  const busWith = async (env: Record<string, string>) => {
    const config = commonConfigFrom(parseEnv(commonEnv, env));
    return await openBus({ config, service: "store", host: "tls-test", logger });
  };

  it("verifies the server against the configured CA and publishes", async () => {
    const bus = await busWith({
      CROWSNEST_NATS_URL: serverOnly.urls.join(","),
      CROWSNEST_NATS_TLS_CA_FILE: server.certPath,
    });
    try {
      const ack = await bus.js.publish(bus.subjects.hostStats("tls-host"), new TextEncoder().encode("{}"));
      expect(ack.seq).toBe(1);
      expect(bus.nc.info?.tls_required).toBe(true);
    } finally {
      await bus.drain();
    }
  });

  it("refuses a server its CA did not sign", async () => {
    await expect(
      connect({
        servers: [...serverOnly.urls],
        tls: natsTlsOptions({ caFile: stranger.certPath, certFile: undefined, keyFile: undefined }),
        maxReconnectAttempts: 0,
      }),
    ).rejects.toThrow(/self-signed certificate|unable to verify|certificate/);
  });

  it("presents the client certificate a server requires, and is refused without one", async () => {
    const bus = await busWith({
      CROWSNEST_NATS_URL: mutual.urls.join(","),
      CROWSNEST_NATS_TLS_CA_FILE: server.certPath,
      CROWSNEST_NATS_TLS_CERT_FILE: server.certPath,
      CROWSNEST_NATS_TLS_KEY_FILE: server.keyPath,
    });
    try {
      await bus.js.publish(bus.subjects.hostStats("tls-host"), new TextEncoder().encode("{}"));
    } finally {
      await bus.drain();
    }
    await expect(
      connect({
        servers: [...mutual.urls],
        tls: natsTlsOptions({ caFile: server.certPath, certFile: undefined, keyFile: undefined }),
        maxReconnectAttempts: 0,
        timeout: 5000,
      }),
    ).rejects.toThrow();
  });

  it("says which variable is missing when only half a client certificate is configured", () => {
    expect(() =>
      commonConfigFrom(parseEnv(commonEnv, { CROWSNEST_NATS_TLS_CERT_FILE: server.certPath })),
    ).toThrow("CROWSNEST_NATS_TLS_CERT_FILE and CROWSNEST_NATS_TLS_KEY_FILE go together");
  });
});
