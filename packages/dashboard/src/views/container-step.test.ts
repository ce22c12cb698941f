import { describe, expect, it } from "vitest";
import { stepFor } from "./container.tsx";

const HOUR_MS = 3_600_000;

describe("stepFor (a custom window's step)", () => {
  it.each([
    [HOUR_MS, "6s"],
    [5 * HOUR_MS, "30s"],
    // Longer than 5 h: raw samples would be more than the api's rows per series; minutes.
    [8 * HOUR_MS, "1m"],
    [30 * HOUR_MS, "3m"],
    // Longer than 31 h: every minute row would be read whatever the step; multiples of 5 minutes.
    [48 * HOUR_MS, "5m"],
    [6 * 24 * HOUR_MS, "15m"],
    // Longer than 6.5 days: five-minute rows would be too many as well; whole hours.
    [7 * 24 * HOUR_MS, "1h"],
    [30 * 24 * HOUR_MS, "2h"],
    [100 * 24 * HOUR_MS, "1d"],
    [365 * 24 * HOUR_MS, "1d"],
  ])("%d ms → %s", (spanMs, step) => {
    expect(stepFor(spanMs)).toBe(step);
  });
});
