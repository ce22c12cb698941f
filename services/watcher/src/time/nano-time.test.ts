import { describe, expect, it } from "vitest";
import { nanosToDockerTime, nanosToTimestamp, rfc3339ToNanos, rfc3339ToTimestamp } from "./nano-time.ts";

describe("Docker times", () => {
  it("keeps inspect's nanoseconds exactly", () => {
    expect(rfc3339ToNanos("2026-11-21T20:51:13.123456789Z")).toBe(1_795_294_273_123_456_789n);
    expect(rfc3339ToNanos("2026-11-21T20:51:13.5Z")).toBe(1_795_294_273_500_000_000n);
    expect(rfc3339ToNanos("2026-11-21T20:51:13Z")).toBe(1_795_294_273_000_000_000n);
    expect(rfc3339ToNanos("2026-11-21T21:51:13.000000001+01:00")).toBe(1_795_294_273_000_000_001n);
  });

  it("reads Docker's zero time and anything odd as never", () => {
    expect(rfc3339ToNanos("0001-01-01T00:00:00Z")).toBeUndefined();
    expect(rfc3339ToNanos("")).toBeUndefined();
    expect(rfc3339ToNanos("yesterday")).toBeUndefined();
    expect(rfc3339ToNanos(1795294273)).toBeUndefined();
    expect(rfc3339ToTimestamp("0001-01-01T00:00:00Z")).toBeNull();
  });

  it("gives the bus's milliseconds and dockerd's seconds.nanoseconds", () => {
    expect(nanosToTimestamp(1_795_294_273_123_456_789n)).toBe("2026-11-21T20:51:13.123Z");
    expect(rfc3339ToTimestamp("2026-11-21T20:51:13.123956789Z")).toBe("2026-11-21T20:51:13.123Z");
    expect(nanosToDockerTime(1_795_294_273_000_000_042n)).toBe("1795294273.000000042");
  });
});
