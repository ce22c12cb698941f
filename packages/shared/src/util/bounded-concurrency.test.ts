import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { forEachBounded } from "./bounded-concurrency.ts";

describe("forEachBounded", () => {
  it("does every item with at most `limit` in flight", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const done: number[] = [];
    await forEachBounded(
      Array.from({ length: 20 }, (_, i) => i),
      3,
      async (item) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(2);
        done.push(item);
        inFlight -= 1;
      },
    );
    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(maxInFlight).toBe(3);
  });

  it("starts no new item once told to stop, and lets started ones finish", async () => {
    const started: number[] = [];
    let stop = false;
    await forEachBounded(
      [1, 2, 3, 4, 5, 6],
      2,
      async (item) => {
        started.push(item);
        if (item === 2) stop = true;
        await sleep(1);
      },
      () => stop,
    );
    expect(started).toEqual([1, 2]);
  });

  it("handles an empty list", async () => {
    await expect(forEachBounded([], 8, async () => undefined)).resolves.toBeUndefined();
  });
});
