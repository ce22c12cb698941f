import { describe, expect, it } from "vitest";
import { rowsPerSeries } from "./range-params.ts";
import { resolveSeriesWindow } from "./series-routes.ts";

const NOW = Date.parse("2026-12-05T12:00:00.000Z");

describe("the step of a series request", () => {
  it.each([
    [{ range: "1h" as const }, "1m"],
    [{ range: "24h" as const }, "24m"],
    [{ range: "24h" as const, points: 1000 }, "2m"],
    // 48 minutes would read 2 880 minute rows per series: whole hours instead.
    [{ from: "2026-12-03T12:00:00Z" }, "1h"],
    [{ range: "30d" as const, points: 1000 }, "1h"],
    [{ range: "7d" as const }, "3h"],
    // 10 hours over 400 days would read 9 600 hourly rows: whole days.
    [{ from: "2025-11-01T12:00:00Z", points: 1000 }, "1d"],
  ])("%o → %s, within the rows per series and the points asked", (query, step) => {
    const window = resolveSeriesWindow(query, NOW);
    expect(window.step).toBe(step);
    expect(rowsPerSeries(window.toMs - window.fromMs, window.stepMs)).toBeLessThanOrEqual(2000);
    const points = (window.toMs - window.fromMs) / window.stepMs;
    // At most the points asked, plus one for the window widened to whole steps.
    expect(points).toBeLessThanOrEqual(("points" in query ? query.points : 60) + 1);
  });
});
