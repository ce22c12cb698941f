import { describe, expect, it } from "vitest";
import { createLogger } from "../log/logger.ts";
import { natsClientOptions } from "./nats-connection.ts";

const base = {
  servers: ["nats://127.0.0.1:4222"],
  name: "crowsnest-watcher@test",
  token: undefined,
  logger: createLogger({ service: "watcher", level: "silent" }),
};

describe("natsClientOptions", () => {
  it("leaves the client's async traces on unless asked", () => {
    expect(natsClientOptions(base)).not.toHaveProperty("noAsyncTraces");
    expect(natsClientOptions({ ...base, asyncTraces: true })).not.toHaveProperty("noAsyncTraces");
  });

  it("turns them off with asyncTraces: false", () => {
    expect(natsClientOptions({ ...base, asyncTraces: false })).toMatchObject({ noAsyncTraces: true });
  });
});
