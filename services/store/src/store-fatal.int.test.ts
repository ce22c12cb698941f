// The store as it ships (its own process) when it cannot run: a startup failure it cannot retry
// past, and the NATS connection closed for good while it runs. Either way it exits 1 with exactly
// one JSON fatal line and no raw output (no stack trace), so that its supervisor restarts it.
import { createSubjects, DEFAULT_STREAM_RETENTION, streamDefinitions } from "@crowsnest/shared";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { describe, expect } from "vitest";
import { integrationTest } from "../../../test/support/integration-fixtures.ts";
import { type ServiceProcess, startService } from "../../../test/support/service-process.ts";
import { connectTestNats, natsUrl, testSubjectPrefix } from "../../../test/support/test-env.ts";

function expectOneFatalLine(store: ServiceProcess): Record<string, unknown> {
  const fatal = store.logs.filter((record) => record.level === "fatal");
  expect(fatal).toHaveLength(1);
  expect(store.otherOutput).toEqual([]);
  return fatal[0] ?? {};
}

describe("the store when it cannot run", () => {
  integrationTest(
    "exits 1 with one fatal line when its telemetry stream exists with a storage it cannot change",
    async ({ database, subjectPrefix }) => {
      // Memory storage where the store needs file storage: JetStream refuses to change a stream's
      // storage, so no retry could help; someone has to delete or migrate the stream.
      const [telemetry] = streamDefinitions(createSubjects(subjectPrefix), DEFAULT_STREAM_RETENTION);
      if (telemetry === undefined) throw new Error("no telemetry stream definition");
      const nc = await connectTestNats();
      try {
        await (await jetstreamManager(nc)).streams.add({ ...telemetry.config, storage: StorageType.Memory });
      } finally {
        await nc.close();
      }

      const store = startService("store", {
        CROWSNEST_DATABASE_URL: database.url,
        CROWSNEST_NATS_URL: natsUrl(),
        CROWSNEST_SUBJECT_PREFIX: subjectPrefix,
      });
      expect(await store.exited).toBe(1);
      const fatal = expectOneFatalLine(store);
      expect(fatal.msg).toBe("store failed");
      expect(JSON.stringify(fatal.err)).toMatch(/storage/i);
      expect(store.logs.some((record) => record.msg === "store started")).toBe(false);
    },
  );

  integrationTest(
    "exits 1 with one fatal line once the NATS server refuses its token while it runs",
    async ({ database, privateNats }) => {
      await privateNats.start({ token: "store-token-before" });
      const store = startService("store", {
        CROWSNEST_DATABASE_URL: database.url,
        CROWSNEST_NATS_URL: privateNats.url,
        CROWSNEST_NATS_TOKEN: "store-token-before",
        CROWSNEST_SUBJECT_PREFIX: testSubjectPrefix(),
      });
      try {
        await store.waitForLog((record) => record.msg === "store started", 120_000);
        // The server returns with a rotated token: the client is refused twice and gives up.
        await privateNats.stop();
        await privateNats.start({ token: "store-token-after" });

        expect(await store.exited).toBe(1);
        const fatal = expectOneFatalLine(store);
        // Said as at start: the code, and the settings to check.
        expect(fatal).toMatchObject({ code: "nats_auth" });
        expect(fatal.msg).toMatch(
          /^NATS connection refused for good: NATS \(.+\) refused this service's credentials \(.*authorization.*\): check CROWSNEST_NATS_USER .*; exiting so that store is restarted$/i,
        );
      } finally {
        await store.stop();
      }
    },
    180_000,
  );
});
