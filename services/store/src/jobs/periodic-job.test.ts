import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PeriodicJob } from "./periodic-job.ts";

const logger = pino({ level: "silent" });
// 10:00:05 UTC: 16 s before the phase point of a 1-minute grid 21 s in.
const START_MS = Date.UTC(2026, 11, 6, 10, 0, 5);

describe("PeriodicJob", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: START_MS });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A job whose runs record the (fake) wall clock they started at. */
  function recordingJob(options: { intervalMs: number; phaseMs?: number }) {
    const runs: number[] = [];
    const job = new PeriodicJob({
      name: "test",
      logger,
      ...options,
      run: async () => {
        runs.push(Date.now());
      },
    });
    return { job, runs };
  }

  it("runs at start, then on the interval's grid at its phase, however late it started", async () => {
    const { job, runs } = recordingJob({ intervalMs: 60_000, phaseMs: 21_000 });
    job.start();
    await vi.advanceTimersByTimeAsync(15_999);
    expect(runs).toEqual([START_MS]);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toEqual([START_MS, Date.UTC(2026, 11, 6, 10, 0, 21)]);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(runs.slice(2)).toEqual([Date.UTC(2026, 11, 6, 10, 1, 21), Date.UTC(2026, 11, 6, 10, 2, 21)]);
    await job.stop();
    await vi.advanceTimersByTimeAsync(300_000);
    expect(runs).toHaveLength(4);
  });

  it("stays on the grid after a run that takes longer than the time left to the next tick", async () => {
    const runs: number[] = [];
    const job = new PeriodicJob({
      name: "slow",
      logger,
      intervalMs: 60_000,
      phaseMs: 21_000,
      run: async () => {
        runs.push(Date.now());
        // The first run (the catch-up at start) lasts past the first phase point.
        if (runs.length === 1) await new Promise((resolve) => setTimeout(resolve, 30_000));
      },
    });
    job.start();
    await vi.advanceTimersByTimeAsync(120_000);
    // 10:00:21 came while the catch-up ran and was skipped; the grid holds after it.
    expect(runs).toEqual([START_MS, Date.UTC(2026, 11, 6, 10, 1, 21)]);
    await job.stop();
  });

  it("runs every interval from start without a phase", async () => {
    const { job, runs } = recordingJob({ intervalMs: 60_000 });
    job.start();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(runs).toEqual([START_MS, START_MS + 60_000, START_MS + 120_000]);
    await job.stop();
  });
});
