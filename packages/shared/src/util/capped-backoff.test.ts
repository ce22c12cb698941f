import { describe, expect, it } from "vitest";
import { CappedBackoff } from "./capped-backoff.ts";

describe("CappedBackoff", () => {
  it("doubles from the initial delay up to the ceiling and starts over after a reset", () => {
    const backoff = new CappedBackoff({ initialMs: 500, maxMs: 30_000 });
    const delays = Array.from({ length: 9 }, () => backoff.next());
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(backoff.failures).toBe(9);
    backoff.reset();
    expect(backoff.next()).toBe(500);
  });

  it("stays at the ceiling through a very long outage", () => {
    const backoff = new CappedBackoff({ initialMs: 500, maxMs: 30_000 });
    for (let i = 0; i < 10_000; i++) backoff.next();
    expect(backoff.next()).toBe(30_000);
  });
});
