// The api as it ships (its own process) when it cannot run: a port it cannot listen on, and the
// NATS connection closed for good while it runs. Either way it exits 1 with exactly one JSON
// fatal line and no raw output (no stack trace), so that its supervisor restarts it.
import { once } from "node:events";
import { createServer } from "node:net";
import { describe, expect } from "vitest";
import { integrationTest } from "../../../test/support/integration-fixtures.ts";
import { type ServiceProcess, startService } from "../../../test/support/service-process.ts";
import { natsUrl, testSubjectPrefix } from "../../../test/support/test-env.ts";

function expectOneFatalLine(api: ServiceProcess): Record<string, unknown> {
  const fatal = api.logs.filter((record) => record.level === "fatal");
  expect(fatal).toHaveLength(1);
  expect(api.otherOutput).toEqual([]);
  return fatal[0] ?? {};
}

describe("the api when it cannot run", () => {
  integrationTest("exits 1 with one fatal line when its port is taken", async ({ database }) => {
    const occupant = createServer();
    occupant.listen(0, "127.0.0.1");
    await once(occupant, "listening");
    const address = occupant.address();
    if (address === null || typeof address !== "object") throw new Error("no port");
    try {
      const api = startService("api", {
        CROWSNEST_DATABASE_URL: database.url,
        CROWSNEST_NATS_URL: natsUrl(),
        CROWSNEST_SUBJECT_PREFIX: testSubjectPrefix(),
        CROWSNEST_API_PORT: String(address.port),
        CROWSNEST_API_LISTEN_HOST: "127.0.0.1",
        CROWSNEST_API_AUTH_DISABLED: "true",
      });
      expect(await api.exited).toBe(1);
      const fatal = expectOneFatalLine(api);
      expect(fatal.msg).toBe("api failed");
      expect(JSON.stringify(fatal.err)).toContain("EADDRINUSE");
    } finally {
      await new Promise((resolve) => occupant.close(resolve));
    }
  });

  integrationTest(
    "exits 1 with one fatal line once the NATS server refuses its token while it runs",
    async ({ database, privateNats }) => {
      await privateNats.start({ token: "api-token-before" });
      const api = startService("api", {
        CROWSNEST_DATABASE_URL: database.url,
        CROWSNEST_NATS_URL: privateNats.url,
        CROWSNEST_NATS_TOKEN: "api-token-before",
        CROWSNEST_SUBJECT_PREFIX: testSubjectPrefix(),
        CROWSNEST_API_PORT: "0",
        CROWSNEST_API_LISTEN_HOST: "127.0.0.1",
        CROWSNEST_API_AUTH_DISABLED: "true",
      });
      try {
        await api.waitForLog((record) => record.msg === "api connected to the bus", 120_000);
        // The server returns with a rotated token: the client is refused twice and gives up.
        await privateNats.stop();
        await privateNats.start({ token: "api-token-after" });

        expect(await api.exited).toBe(1);
        const fatal = expectOneFatalLine(api);
        // Said as at start: the code, and the settings to check.
        expect(fatal).toMatchObject({ code: "nats_auth" });
        expect(fatal.msg).toMatch(
          /^NATS connection refused for good: NATS \(.+\) refused this service's credentials \(.*authorization.*\): check CROWSNEST_NATS_USER .*; exiting so that api is restarted$/i,
        );
      } finally {
        await api.stop();
      }
    },
    180_000,
  );
});
