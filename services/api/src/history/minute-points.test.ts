import { describe, expect, it } from "vitest";
import { MinutePointCache, servesFromMinutes } from "./minute-points.ts";

const MINUTE = 60_000;

describe("the kept minutes' points", () => {
  it("keeps a minute's points only for the generation they were read at", () => {
    const cache = new MinutePointCache();
    const kept = cache.minute(0, "3");
    cache.put(kept, "samples", 1, "6");
    cache.put(kept, "samples", 2, "");
    expect(cache.minute(0, "3").columns.get("samples")?.get(1)).toBe("6");
    expect(cache.size).toBe(2);
    // Computed again (a late sample): what was kept is dropped.
    expect(cache.minute(0, "4").columns.size).toBe(0);
    expect(cache.size).toBe(0);
  });

  it("drops minutes older than asked, then the oldest past the bound", () => {
    const cache = new MinutePointCache();
    for (let minute = 0; minute < 10; minute++) {
      const kept = cache.minute(minute * MINUTE, "1");
      for (let key = 1; key <= 5; key++) cache.put(kept, "samples", key, "6");
    }
    expect(cache.size).toBe(50);
    cache.trim(2 * MINUTE, 1000);
    expect(cache.size).toBe(40);
    cache.trim(0, 25);
    expect(cache.size).toBe(25);
    // The newest minutes stay.
    expect(cache.minute(9 * MINUTE, "1").columns.get("samples")?.size).toBe(5);
    expect(cache.minute(4 * MINUTE, "1").columns.size).toBe(0);
  });

  it("serves 1-minute steps within the kept minutes only", () => {
    const now = 1_000 * MINUTE;
    expect(servesFromMinutes({ fromMs: now - 60 * MINUTE, stepMs: MINUTE }, now)).toBe(true);
    expect(servesFromMinutes({ fromMs: now - 60 * MINUTE, stepMs: 5 * MINUTE }, now)).toBe(false);
    expect(servesFromMinutes({ fromMs: now - 200 * MINUTE, stepMs: MINUTE }, now)).toBe(false);
  });
});
