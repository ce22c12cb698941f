// Which buckets a batch of samples marks for recomputation.
import { describe, expect, it } from "vitest";
import { closingBuckets } from "./rollup-marks.ts";

describe("closingBuckets", () => {
  const now = Date.parse("2026-11-21T10:30:00.000Z");

  it("marks nothing for samples of the open minute", () => {
    expect(closingBuckets("container", ["2026-11-21T10:30:00.000Z"], now).series).toEqual([]);
  });

  it("marks the closed minute of a sample that arrives after it, not its open hour", () => {
    const marked = closingBuckets("container", ["2026-11-21T10:29:59.000Z", "2026-11-21T10:30:00.000Z"], now);
    expect(marked.series).toEqual(["container_minute"]);
    expect(marked.buckets).toEqual(["2026-11-21T10:29:00.000Z"]);
  });

  it("marks closed minutes, hours and days once each, in a stable order", () => {
    const marked = closingBuckets(
      "host",
      [
        "2026-11-21T09:59:59.000Z",
        "2026-11-21T09:00:00.000Z",
        "2026-11-21T09:00:30.000Z",
        "2026-11-20T23:00:00.000Z",
      ],
      now,
    );
    expect(marked.series).toEqual([
      "host_daily",
      "host_hourly",
      "host_hourly",
      "host_minute",
      "host_minute",
      "host_minute",
    ]);
    expect(marked.buckets).toEqual([
      "2026-11-20T00:00:00.000Z",
      "2026-11-20T23:00:00.000Z",
      "2026-11-21T09:00:00.000Z",
      "2026-11-20T23:00:00.000Z",
      "2026-11-21T09:00:00.000Z",
      "2026-11-21T09:59:00.000Z",
    ]);
  });

  it("marks an hour that closes within minutes (the database decides precisely)", () => {
    const nearEnd = Date.parse("2026-11-21T10:55:00.000Z");
    expect(closingBuckets("container", ["2026-11-21T10:54:00.000Z"], nearEnd).series).toEqual([
      "container_hourly",
      "container_minute",
    ]);
  });
});
