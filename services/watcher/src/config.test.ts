import { ConfigError } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { collectorEnv } from "../../collector/src/config.ts";
import { parseWatcherConfig, watcherEnv } from "./config.ts";

describe("parseWatcherConfig", () => {
  it("has defaults for everything", () => {
    const config = parseWatcherConfig({});
    expect(config).toMatchObject({
      hostName: undefined,
      dockerSocketPath: "/var/run/docker.sock",
      inventoryIntervalMs: 300_000,
      common: { subjectPrefix: "crowsnest", natsServers: ["nats://127.0.0.1:4222"] },
    });
  });

  it("reads the watcher's variables", () => {
    const config = parseWatcherConfig({
      CROWSNEST_HOST_NAME: "edge-7",
      CROWSNEST_DOCKER_SOCKET: "/run/user/1000/docker.sock",
      CROWSNEST_INVENTORY_INTERVAL_MS: "60000",
      CROWSNEST_SUBJECT_PREFIX: "acme",
    });
    expect(config).toMatchObject({
      hostName: "edge-7",
      dockerSocketPath: "/run/user/1000/docker.sock",
      inventoryIntervalMs: 60_000,
      common: { subjectPrefix: "acme" },
    });
  });

  it("names every bad variable at once", () => {
    const read = () =>
      parseWatcherConfig({ CROWSNEST_HOST_NAME: "two words", CROWSNEST_INVENTORY_INTERVAL_MS: "5 min" });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/CROWSNEST_HOST_NAME.*CROWSNEST_INVENTORY_INTERVAL_MS/);
  });

  it("reads the host name the same way as the collector", () => {
    expect(watcherEnv.CROWSNEST_HOST_NAME).toBe(collectorEnv.CROWSNEST_HOST_NAME);
    expect(watcherEnv.CROWSNEST_NATS_URL).toBeDefined();
  });
});
