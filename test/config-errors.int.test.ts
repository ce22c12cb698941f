// Every service, started with a bad configuration value, exits 1 before doing anything,
// with one JSON log line naming each wrong variable and what it expected.
import { describe, expect, it } from "vitest";
import { type ServiceName, startService } from "./support/service-process.ts";

describe.each<ServiceName>(["collector", "watcher", "store", "api"])(
  "%s with a bad configuration",
  (service) => {
    it("exits 1 naming every wrong variable", async () => {
      const process = startService(service, {
        CROWSNEST_NATS_URL: "http://not-nats:80",
        CROWSNEST_SHUTDOWN_TIMEOUT_MS: "soon",
      });
      expect(await process.exited).toBe(1);
      const fatal = process.logs.find((record) => record.level === "fatal");
      expect(fatal?.msg).toContain(
        "CROWSNEST_NATS_URL must be comma-separated values, each a URL starting with nats://",
      );
      expect(fatal?.msg).toContain(
        'CROWSNEST_SHUTDOWN_TIMEOUT_MS must be an integer from 100 to 600000, got "soon"',
      );
      expect(process.otherOutput).toEqual([]);
    });
  },
);
