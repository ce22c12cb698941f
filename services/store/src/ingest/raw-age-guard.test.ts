// The ingest's age limit agrees with what retention drops: a sample is refused exactly when its
// day partition is one the retention run at the same moment would drop.
import { describe, expect, it } from "vitest";
import { dayNumber, oldestKeptRawDay } from "../db/partitions.ts";
import { rawAgeGuard } from "./raw-age-guard.ts";

describe("raw age guard", () => {
  it("refuses samples from days before the oldest kept day, and nothing from that day on", () => {
    const now = Date.parse("2026-12-05T11:30:00.000Z");
    const refuse = rawAgeGuard({ rawRetentionDays: 7, now: () => now });
    // Retention at 2026-12-05T11:30 keeps the day that ends after 2026-11-28T11:30: the 28th.
    expect(oldestKeptRawDay(now, 7)).toBe(dayNumber("2026-11-28T00:00:00.000Z"));
    expect(refuse({ ts: "2026-11-28T00:00:00.000Z" })).toBeUndefined();
    expect(refuse({ ts: "2026-12-05T11:29:59.999Z" })).toBeUndefined();
    expect(refuse({ ts: "2026-11-27T23:59:59.999Z" })).toEqual({
      reason: "too_old",
      detail:
        "ts 2026-11-27T23:59:59.999Z is older than the raw retention of 7 d (oldest kept: 2026-11-28T00:00:00.000Z)",
    });
    expect(refuse({ ts: "0001-01-01T00:00:00.000Z" })?.reason).toBe("too_old");
  });

  it("moves the limit when the clock passes midnight", () => {
    let now = Date.parse("2026-12-05T23:59:59.999Z");
    const refuse = rawAgeGuard({ rawRetentionDays: 1, now: () => now });
    expect(refuse({ ts: "2026-12-04T00:00:00.000Z" })).toBeUndefined();
    now += 1;
    expect(refuse({ ts: "2026-12-04T00:00:00.000Z" })?.reason).toBe("too_old");
    expect(refuse({ ts: "2026-12-05T00:00:00.000Z" })).toBeUndefined();
  });
});
