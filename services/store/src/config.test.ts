// The store's configuration: defaults of the retention and job settings, and bad values named.
import { ConfigError } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { parseStoreConfig } from "./config.ts";

describe("store configuration", () => {
  it("defaults to raw 7 d, hourly 90 d, daily 400 d, events 30 d, alert history 90 d", () => {
    const config = parseStoreConfig({});
    expect(config.retentionDays).toEqual({
      raw: 7,
      minute: 14,
      hourly: 90,
      daily: 400,
      events: 30,
      alertHistory: 90,
    });
    expect(config.rollupIntervalMs).toBe(60_000);
    expect(config.retentionIntervalMs).toBe(600_000);
  });

  it("reads the retention variables and refuses nonsense, naming each variable", () => {
    expect(parseStoreConfig({ CROWSNEST_RETENTION_RAW_DAYS: "2" }).retentionDays.raw).toBe(2);
    expect(() =>
      parseStoreConfig({ CROWSNEST_RETENTION_RAW_DAYS: "0", CROWSNEST_RETENTION_DAILY_DAYS: "x" }),
    ).toThrow(ConfigError);
    try {
      parseStoreConfig({ CROWSNEST_RETENTION_RAW_DAYS: "0", CROWSNEST_RETENTION_DAILY_DAYS: "x" });
    } catch (error) {
      expect(String(error)).toContain("CROWSNEST_RETENTION_RAW_DAYS");
      expect(String(error)).toContain("CROWSNEST_RETENTION_DAILY_DAYS");
    }
  });

  it("defaults notification delivery, and refuses a public URL that is not http(s)", () => {
    const config = parseStoreConfig({});
    expect(config.publicUrl).toBeUndefined();
    expect(config.notify).toEqual({
      timeoutMs: 10_000,
      maxAttempts: 12,
      retryMinDelayMs: 1000,
      retryMaxDelayMs: 60_000,
      pollMs: 1000,
    });
    expect(parseStoreConfig({ CROWSNEST_PUBLIC_URL: "https://crowsnest.example.com/x" }).publicUrl).toBe(
      "https://crowsnest.example.com/x",
    );
    expect(() => parseStoreConfig({ CROWSNEST_PUBLIC_URL: "javascript:alert(1)" })).toThrow(
      /CROWSNEST_PUBLIC_URL/,
    );
  });
});
