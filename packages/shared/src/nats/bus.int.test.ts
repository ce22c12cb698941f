// The bus's connection state against a NATS server of the test's own: connected, not
// connected while the server is away, connected again when it returns, and closed for good
// when the server comes back refusing the client's token (what makes a service exit).
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createPrivateNatsServer,
  type PrivateNatsServer,
} from "../../../../test/support/private-nats-server.ts";
import { eventually, testSubjectPrefix } from "../../../../test/support/test-env.ts";
import { commonConfigFrom, commonEnv } from "../config/common-env.ts";
import { parseEnv } from "../config/env-spec.ts";
import { type Bus, openBus } from "./bus.ts";

const logger = pino({ level: "silent" });

describe("the bus's connection state", () => {
  let server: PrivateNatsServer;
  let bus: Bus;

  beforeAll(async () => {
    server = await createPrivateNatsServer();
    await server.start({ token: "first-token" });
    const config = commonConfigFrom(
      parseEnv(commonEnv, {
        CROWSNEST_NATS_URL: server.url,
        CROWSNEST_NATS_TOKEN: "first-token",
        CROWSNEST_SUBJECT_PREFIX: testSubjectPrefix(),
      }),
    );
    bus = await openBus({ config, service: "store", host: "bus-test", logger });
  });

  afterAll(async () => {
    await bus?.drain();
    await server?.dispose();
  });

  it("follows the server going away and coming back", async () => {
    expect(bus.isConnected()).toBe(true);
    await server.stop();
    await eventually(() => (bus.isConnected() ? undefined : true), {
      timeoutMs: 30_000,
      what: "the bus to notice the server is gone",
    });
    await server.start({ token: "first-token" });
    await eventually(() => (bus.isConnected() ? true : undefined), {
      timeoutMs: 30_000,
      what: "the bus to reconnect",
    });
  });

  it("is closed for good when the server refuses its token, with the reason", async () => {
    let closedFor: Error | undefined | "open" = "open";
    void bus.closed().then((reason) => {
      closedFor = reason;
    });
    await server.stop();
    await server.start({ token: "rotated-token" });
    const reason = await eventually(() => (closedFor === "open" ? undefined : closedFor), {
      timeoutMs: 30_000,
      what: "the connection to close for good",
    });
    expect(reason).toBeInstanceOf(Error);
    expect(String(reason)).toMatch(/authorization/i);
    expect(bus.isConnected()).toBe(false);
  });
});
