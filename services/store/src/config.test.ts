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

  it("defaults the alert job intervals and the stats write concurrency, and reads them", () => {
    const defaults = parseStoreConfig({});
    expect(defaults.alerts).toEqual({
      publishIntervalMs: 1000,
      sweepIntervalMs: 30_000,
      configCheckIntervalMs: 2000,
    });
    expect(defaults.ingest.statsWriteConcurrency).toBe(2);
    const set = parseStoreConfig({
      CROWSNEST_ALERT_PUBLISH_INTERVAL_MS: "250",
      CROWSNEST_ALERT_SWEEP_INTERVAL_MS: "5000",
      CROWSNEST_ALERT_CONFIG_CHECK_INTERVAL_MS: "500",
      CROWSNEST_INGEST_STATS_WRITE_CONCURRENCY: "4",
    });
    expect(set.alerts).toEqual({ publishIntervalMs: 250, sweepIntervalMs: 5000, configCheckIntervalMs: 500 });
    expect(set.ingest.statsWriteConcurrency).toBe(4);
    expect(() => parseStoreConfig({ CROWSNEST_ALERT_SWEEP_INTERVAL_MS: "10" })).toThrow(
      /CROWSNEST_ALERT_SWEEP_INTERVAL_MS/,
    );
  });
});
