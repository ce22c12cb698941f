// The poll schedule on a clock the test moves: a run starts every interval from the previous
// start whatever the run's duration, a run longer than the interval is followed at once (never
// overlapped, never a burst), wake() starts a run now or right after the one in progress.
import { describe, expect, it } from "vitest";
import { type LoopClock, runAtFixedRate } from "./fixed-rate-loop.ts";

/** A clock that moves only when the test says, with the sleeps pending on it. */
function manualClock() {
  let nowMs = 0;
  const sleepers: { untilMs: number; resolve: () => void }[] = [];
  const clock: LoopClock = {
    now: () => nowMs,
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        if (signal.aborted || ms <= 0) return resolve();
        const sleeper = { untilMs: nowMs + ms, resolve };
        sleepers.push(sleeper);
        signal.addEventListener(
          "abort",
          () => {
            sleepers.splice(sleepers.indexOf(sleeper), 1);
            resolve();
          },
          { once: true },
        );
      }),
  };
  /** Lets every promise chain that can move do so (a macrotask runs after all pending microtasks). */
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    clock,
    settle,
    async advance(ms: number) {
      await settle();
      nowMs += ms;
      for (const sleeper of sleepers.filter((s) => s.untilMs <= nowMs)) {
        sleepers.splice(sleepers.indexOf(sleeper), 1);
        sleeper.resolve();
      }
      await settle();
    },
  };
}

/** A run per call, each ended by the test; the clock time each started at. */
function controlledRuns(clock: LoopClock) {
  const starts: number[] = [];
  let finish: (() => void) | undefined;
  let running = 0;
  let mostAtOnce = 0;
  return {
    starts,
    get mostAtOnce() {
      return mostAtOnce;
    },
    run: () =>
      new Promise<void>((resolve) => {
        starts.push(clock.now());
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        finish = () => {
          running -= 1;
          resolve();
        };
      }),
    finish() {
      const end = finish;
      finish = undefined;
      end?.();
    },
  };
}

describe("runAtFixedRate", () => {
  it("starts a run every interval from the previous start, whatever the run's duration", async () => {
    const time = manualClock();
    const runs = controlledRuns(time.clock);
    const stop = new AbortController();
    const loop = runAtFixedRate(runs.run, { intervalMs: 1000, signal: stop.signal, clock: time.clock });
    await time.settle();
    expect(runs.starts).toEqual([0]);
    await time.advance(300); // the first run takes 300 ms
    runs.finish();
    await time.advance(699);
    expect(runs.starts).toEqual([0]);
    await time.advance(1); // 1000: one interval after the first start, not after its end
    expect(runs.starts).toEqual([0, 1000]);
    runs.finish();
    await time.advance(1000);
    expect(runs.starts).toEqual([0, 1000, 2000]);
    stop.abort();
    runs.finish();
    await loop.done;
    expect(runs.starts).toEqual([0, 1000, 2000]);
  });

  it("follows a run longer than the interval at once, without overlapping it or catching up", async () => {
    const time = manualClock();
    const runs = controlledRuns(time.clock);
    const stop = new AbortController();
    const loop = runAtFixedRate(runs.run, { intervalMs: 1000, signal: stop.signal, clock: time.clock });
    await time.settle();
    await time.advance(3500); // three start times pass during the first run
    expect(runs.starts).toEqual([0]);
    runs.finish();
    await time.settle();
    expect(runs.starts).toEqual([0, 3500]);
    runs.finish();
    await time.advance(999);
    expect(runs.starts).toEqual([0, 3500]);
    await time.advance(1);
    expect(runs.starts).toEqual([0, 3500, 4500]);
    expect(runs.mostAtOnce).toBe(1);
    stop.abort();
    runs.finish();
    await loop.done;
  });

  it("starts a run at once when woken, and right after the run in progress when woken during it", async () => {
    const time = manualClock();
    const runs = controlledRuns(time.clock);
    const stop = new AbortController();
    const loop = runAtFixedRate(runs.run, { intervalMs: 1000, signal: stop.signal, clock: time.clock });
    await time.settle();
    runs.finish();
    await time.advance(200);
    loop.wake();
    await time.settle();
    expect(runs.starts).toEqual([0, 200]);
    await time.advance(50);
    loop.wake(); // during the run started at 200
    runs.finish();
    await time.settle();
    expect(runs.starts).toEqual([0, 200, 250]);
    runs.finish();
    await time.advance(999);
    expect(runs.starts).toEqual([0, 200, 250]);
    await time.advance(1);
    expect(runs.starts).toEqual([0, 200, 250, 1250]);
    expect(runs.mostAtOnce).toBe(1);
    stop.abort();
    runs.finish();
    await loop.done;
  });

  it("ends when stopped during its wait, without another run", async () => {
    const time = manualClock();
    const runs = controlledRuns(time.clock);
    const stop = new AbortController();
    const loop = runAtFixedRate(runs.run, { intervalMs: 1000, signal: stop.signal, clock: time.clock });
    await time.settle();
    runs.finish();
    await time.advance(10);
    stop.abort();
    await loop.done;
    await time.advance(5000);
    expect(runs.starts).toEqual([0]);
  });
});
