// The api as it ships (its own process) when it cannot run: a port it cannot listen on, and the
// NATS connection closed for good while it runs. Either way it exits 1 with exactly one JSON
// fatal line and no raw output (no stack trace), so that its supervisor restarts it.
import { once } from "node:events";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createPrivateNatsServer,
  type PrivateNatsServer,
} from "../../../test/support/private-nats-server.ts";
import { type ServiceProcess, startService } from "../../../test/support/service-process.ts";
import {
  createTestDatabase,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../test/support/test-env.ts";

function expectOneFatalLine(api: ServiceProcess): Record<string, unknown> {
  const fatal = api.logs.filter((record) => record.level === "fatal");
  expect(fatal).toHaveLength(1);
  expect(api.otherOutput).toEqual([]);
  return fatal[0] ?? {};
}

describe("the api when it cannot run", () => {
  let database: TestDatabase;
  let server: PrivateNatsServer;
  let api: ServiceProcess | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await createPrivateNatsServer();
  });

  afterAll(async () => {
    await api?.stop();
    await server?.dispose();
    await database?.drop();
  });

  it("exits 1 with one fatal line when its port is taken", async () => {
    const occupant = createServer();
    occupant.listen(0, "127.0.0.1");
    await once(occupant, "listening");
    const address = occupant.address();
    if (address === null || typeof address !== "object") throw new Error("no port");
    try {
      const taken = startService("api", {
        CROWSNEST_DATABASE_URL: database.url,
        CROWSNEST_NATS_URL: natsUrl(),
        CROWSNEST_SUBJECT_PREFIX: testSubjectPrefix(),
        CROWSNEST_API_PORT: String(address.port),
        CROWSNEST_API_LISTEN_HOST: "127.0.0.1",
        CROWSNEST_API_AUTH_DISABLED: "true",
      });
      expect(await taken.exited).toBe(1);
      const fatal = expectOneFatalLine(taken);
      expect(fatal.msg).toBe("api failed");
      expect(JSON.stringify(fatal.err)).toContain("EADDRINUSE");
    } finally {
      await new Promise((resolve) => occupant.close(resolve));
    }
  });

  it("exits 1 with one fatal line once the NATS server refuses its token", async () => {
    await server.start({ token: "api-token-before" });
    api = startService("api", {
      CROWSNEST_DATABASE_URL: database.url,
      CROWSNEST_NATS_URL: server.url,
      CROWSNEST_NATS_TOKEN: "api-token-before",
      CROWSNEST_SUBJECT_PREFIX: testSubjectPrefix(),
      CROWSNEST_API_PORT: "0",
      CROWSNEST_API_LISTEN_HOST: "127.0.0.1",
      CROWSNEST_API_AUTH_DISABLED: "true",
    });
    await api.waitForLog((record) => record.msg === "api connected to the bus", 60_000);
    // The server returns with a rotated token: the client is refused twice and gives up.
    await server.stop();
    await server.start({ token: "api-token-after" });

    expect(await api.exited).toBe(1);
    const fatal = expectOneFatalLine(api);
    expect(fatal.msg).toBe("NATS connection closed for good; exiting so that api is restarted");
  }, 90_000);
});
