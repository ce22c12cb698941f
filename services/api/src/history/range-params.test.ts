import { describe, expect, it } from "vitest";
import { ApiError } from "../http/api-error.ts";
import { formatSpan, MAX_ROWS_PER_SERIES, resolveWindow, rowsPerSeries } from "./range-params.ts";

const NOW = Date.parse("2026-12-05T12:00:00.000Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function refusal(query: Parameters<typeof resolveWindow>[0]): string {
  try {
    resolveWindow(query, NOW);
  } catch (error) {
    if (error instanceof ApiError) return error.message;
    throw error;
  }
  throw new Error("expected a 400");
}

describe("the rows a history window may read per series", () => {
  it("counts the stored rows of the tier the step is served from", () => {
    expect(rowsPerSeries(DAY, 5 * 60_000)).toBe(288); // five-minute rows
    expect(rowsPerSeries(DAY, 3 * 60_000)).toBe(1440); // minute rows
    expect(rowsPerSeries(30 * DAY, HOUR)).toBe(720); // hourly rows
    expect(rowsPerSeries(2 * DAY, 7 * HOUR)).toBe(48); // hourly rows
    expect(rowsPerSeries(HOUR, 30_000)).toBe(360); // raw samples, one per 10 s
    expect(rowsPerSeries(HOUR, 1000)).toBe(3600); // points, finer than the samples
  });

  it("answers every window within the limit at the step asked", () => {
    const window = resolveWindow(
      { from: "2026-12-04T00:00:00Z", to: "2026-12-05T09:20:00Z", step: "1m" },
      NOW,
    );
    expect(window.stepMs).toBe(60_000);
    expect((window.toMs - window.fromMs) / window.stepMs).toBe(MAX_ROWS_PER_SERIES);
    expect(resolveWindow({ from: "2026-09-15T00:00:00Z", step: "1h" }, NOW).granularity).toBe("1h");
    // Two days at 5 minutes: 576 five-minute rows (2 880 minute rows before that tier).
    expect(resolveWindow({ from: "2026-12-03T12:00:00Z", step: "5m" }, NOW).stepMs).toBe(5 * 60_000);
  });

  it("refuses a longer window with the limit, the finest step that fits and the longest window at the step", () => {
    expect(refusal({ from: "2026-12-03T12:00:00Z", to: "2026-12-05T12:00:00Z", step: "1m" })).toBe(
      "step: 1m over this window reads about 2880 minute rollup rows per series, more than the limit of 2000; " +
        "use a step of a multiple of 5 minutes (5m, 10m, 15m, …) for this window, or windows of at most 1d9h20m at 1m",
    );
    expect(refusal({ from: "2026-11-25T12:00:00Z", to: "2026-12-05T12:00:00Z", step: "5m" })).toBe(
      "step: 5m over this window reads about 2880 five-minute rollup rows per series, more than the limit of 2000; " +
        "use a step of whole hours (1h, 6h, …) for this window, or windows of at most 6d22h40m at 5m",
    );
    expect(refusal({ from: "2026-06-01T00:00:00Z", to: "2026-12-01T00:00:00Z", step: "1h" })).toContain(
      "hourly rollup rows per series, more than the limit of 2000; use a step of whole days (1d, 7d, …)",
    );
    expect(refusal({ from: "2026-12-05T00:00:00Z", to: "2026-12-05T12:00:00Z", step: "90s" })).toContain(
      "raw samples (counted at one per 10 s) per series, more than the limit of 2000; use a step of whole minutes",
    );
    expect(refusal({ from: "2026-12-05T11:00:00Z", to: "2026-12-05T12:00:00Z", step: "1s" })).toContain(
      "use a step of at least 2s for this window, or windows of at most 33m20s at 1s",
    );
    // A step of many minutes still reads every minute row: only multiples of 5 minutes, whole
    // hours and days read fewer.
    expect(refusal({ from: "2026-11-25T00:00:00Z", to: "2026-12-05T00:00:00Z", step: "7m" })).toContain(
      "reads about 14406 minute rollup rows", // 10 days widened to whole 7-minute steps
    );
  });

  it("leaves the presets as they are", () => {
    expect(resolveWindow({ range: "24h" }, NOW).stepMs).toBe(5 * 60_000);
    expect(resolveWindow({ range: "1h" }, NOW).granularity).toBe("raw");
  });
});

describe("formatSpan", () => {
  it("writes days, hours, minutes and seconds", () => {
    expect(formatSpan(2000 * 60_000)).toBe("1d9h20m");
    expect(formatSpan(2000 * HOUR)).toBe("83d8h");
    expect(formatSpan(20_000_000)).toBe("5h33m20s");
  });
});
