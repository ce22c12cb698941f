import { describe, expect, it } from "vitest";
import { ExitHastener } from "./exit-hastener.ts";

/** A hastener on a clock and timers the test moves by hand. */
function setUp() {
  let nowMs = 0;
  const timers: { run: () => void; atMs: number }[] = [];
  let wakes = 0;
  const hastener = new ExitHastener({
    wake: () => {
      wakes++;
    },
    settleMs: 50,
    maxWaitMs: 1000,
    now: () => nowMs,
    setTimer: (run, ms) => {
      const timer = { run, atMs: nowMs + ms };
      timers.push(timer);
      return timer;
    },
    clearTimer: (timer) => {
      timers.splice(timers.indexOf(timer as (typeof timers)[number]), 1);
    },
  });
  return {
    hastener,
    wakes: () => wakes,
    pendingTimers: () => timers.length,
    /** Moves the clock and fires the timers that are due. */
    advance(ms: number) {
      nowMs += ms;
      for (const timer of timers.filter((entry) => entry.atMs <= nowMs)) {
        timers.splice(timers.indexOf(timer), 1);
        timer.run();
      }
    },
  };
}

describe("ExitHastener", () => {
  it("polls at once on a task deletion, and again settleMs after each poll that still shows the container running", () => {
    const { hastener, wakes, advance, pendingTimers } = setUp();
    hastener.taskDeleted("c1");
    expect(wakes()).toBe(1);
    // The CRI has not recorded the exit yet.
    hastener.polled((id) => id === "c1");
    advance(49);
    expect(wakes()).toBe(1);
    advance(1);
    expect(wakes()).toBe(2);
    // Now it shows it exited: nothing more.
    hastener.polled(() => false);
    advance(1000);
    expect(wakes()).toBe(2);
    expect(pendingTimers()).toBe(0);
  });

  it("gives a container up maxWaitMs after its deletion, and keeps one timer for several containers", () => {
    const { hastener, wakes, advance, pendingTimers } = setUp();
    hastener.taskDeleted("c1");
    hastener.taskDeleted("c2");
    expect(wakes()).toBe(2);
    for (let poll = 0; poll < 19; poll++) {
      hastener.polled(() => true);
      expect(pendingTimers()).toBe(1);
      advance(50);
    }
    expect(wakes()).toBe(2 + 19);
    // 950 ms have passed; the next poll's look is at 1000 ms: both given up.
    advance(50);
    hastener.polled(() => true);
    expect(pendingTimers()).toBe(0);
    advance(1000);
    expect(wakes()).toBe(21);
  });

  it("does not wait for a container the poll does not know, and stops its timer when stopped", () => {
    const { hastener, advance, pendingTimers, wakes } = setUp();
    hastener.taskDeleted("sandbox");
    hastener.polled(() => false);
    expect(pendingTimers()).toBe(0);
    hastener.taskDeleted("c1");
    hastener.polled(() => true);
    expect(pendingTimers()).toBe(1);
    hastener.stop();
    expect(pendingTimers()).toBe(0);
    advance(100);
    expect(wakes()).toBe(2);
  });
});
