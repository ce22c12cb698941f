import { afterEach, describe, expect, it, vi } from "vitest";
import { captureLogger, linesWith } from "../fixtures/capture-logger.ts";
import { TickLoop } from "./tick-loop.ts";

describe("TickLoop", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("never overlaps ticks: skips the ones due while a tick runs, saying so once", async () => {
    vi.useFakeTimers();
    const { logger, lines } = captureLogger();
    let running = 0;
    let most = 0;
    let calls = 0;
    let release: (() => void) | undefined;
    const loop = new TickLoop({
      intervalMs: 100,
      logger,
      tick: async () => {
        calls += 1;
        running += 1;
        most = Math.max(most, running);
        if (calls === 2) await new Promise<void>((resolve) => (release = resolve));
        running -= 1;
        return { n: calls };
      },
      describe: (summary) => ({ n: summary.n }),
    });
    await loop.start();
    await vi.advanceTimersByTimeAsync(100); // second tick starts and hangs
    await vi.advanceTimersByTimeAsync(450); // four ticks due meanwhile
    expect(calls).toBe(2);
    expect(linesWith(lines, "warn", "skipping ticks")).toHaveLength(1);
    release?.();
    await vi.advanceTimersByTimeAsync(0);
    expect(linesWith(lines, "info", "long tick finished")[0]).toMatchObject({ skipped_ticks: 4 });
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(3);
    expect(most).toBe(1);
    expect(linesWith(lines, "debug", "tick finished").at(-1)).toMatchObject({ n: 3 });
    await loop.stop();
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toBe(3);
    expect(loop.stopping).toBe(true);
  });

  it("keeps ticking after a tick throws, logging it as a bug", async () => {
    vi.useFakeTimers();
    const { logger, lines } = captureLogger();
    let calls = 0;
    const loop = new TickLoop({
      intervalMs: 100,
      logger,
      tick: async () => {
        calls += 1;
        if (calls === 1) throw new Error("boom");
        return {};
      },
      describe: () => ({}),
    });
    await loop.start();
    expect(linesWith(lines, "error", "tick failed unexpectedly")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(2);
    await loop.stop();
  });

  it("runs the work at the interval before every tick, also while a long tick skips ticks, until stopped", async () => {
    vi.useFakeTimers();
    const { logger, lines } = captureLogger();
    const order: string[] = [];
    let ticks = 0;
    let release: (() => void) | undefined;
    const loop = new TickLoop({
      intervalMs: 100,
      logger,
      tick: async () => {
        ticks += 1;
        order.push(`tick ${ticks}`);
        if (ticks === 2) await new Promise<void>((resolve) => (release = resolve));
        return {};
      },
      describe: () => ({}),
      everyInterval: () => {
        order.push("host");
        if (order.length === 5) throw new Error("boom");
      },
    });
    await loop.start();
    expect(order).toEqual(["host", "tick 1"]);
    await vi.advanceTimersByTimeAsync(100); // the second tick hangs
    await vi.advanceTimersByTimeAsync(300); // three timers while it does: the work runs, the tick not
    expect(order).toEqual(["host", "tick 1", "host", "tick 2", "host", "host", "host"]);
    expect(linesWith(lines, "error", "work at the interval failed unexpectedly")).toHaveLength(1);
    release?.();
    await vi.advanceTimersByTimeAsync(100);
    expect(order.slice(-2)).toEqual(["host", "tick 3"]);
    await loop.stop();
    const count = order.length;
    await vi.advanceTimersByTimeAsync(500);
    expect(order).toHaveLength(count);
  });
});
