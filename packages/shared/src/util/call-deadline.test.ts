import { describe, expect, it } from "vitest";
import { CallTimeoutError, withDeadline } from "./call-deadline.ts";

describe("withDeadline", () => {
  it("returns what the call returns in time", async () => {
    await expect(withDeadline("fast", 1000, async () => 42)).resolves.toBe(42);
  });

  it("passes the call's own failure through", async () => {
    await expect(
      withDeadline("failing", 1000, async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
  });

  it("gives up at the deadline, aborts the call, and holds even for a call that ignores the signal", async () => {
    let seen: AbortSignal | undefined;
    const started = Date.now();
    const call = withDeadline("stats of abc", 50, (signal) => {
      seen = signal;
      return new Promise<never>(() => undefined);
    });
    await expect(call).rejects.toBeInstanceOf(CallTimeoutError);
    await expect(call).rejects.toThrow("stats of abc did not answer within 50 ms");
    expect(Date.now() - started).toBeLessThan(1000);
    expect(seen?.aborted).toBe(true);
  });
});
