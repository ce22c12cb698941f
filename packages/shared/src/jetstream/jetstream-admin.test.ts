import { JetStreamApiError } from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { isTransientJetStreamError, withAdminRetry } from "./jetstream-admin.ts";

const logger = pino({ level: "silent" });

function apiError(errCode: number, status: number, description: string): JetStreamApiError {
  return new JetStreamApiError({ err_code: errCode, code: status, description });
}

/** The client's "no responders" as it reports it during a leader election. */
function notEnabled(): Error {
  const error = new Error("jetstream is not enabled");
  error.name = "JetStreamNotEnabled";
  return error;
}

describe("isTransientJetStreamError", () => {
  it("retries what a leader election produces", () => {
    expect(isTransientJetStreamError(notEnabled())).toBe(true);
    expect(isTransientJetStreamError(new errors.TimeoutError())).toBe(true);
    expect(isTransientJetStreamError(apiError(10_008, 503, "JetStream system temporarily unavailable"))).toBe(
      true,
    );
    expect(isTransientJetStreamError(apiError(10_118, 500, "stream is offline"))).toBe(true);
  });

  it("does not retry a real answer", () => {
    expect(
      isTransientJetStreamError(apiError(10_074, 500, "replicas > 1 not supported in non-clustered mode")),
    ).toBe(false);
    expect(isTransientJetStreamError(apiError(10_059, 404, "stream not found"))).toBe(false);
    expect(isTransientJetStreamError(new Error("permissions violation"))).toBe(false);
  });
});

describe("withAdminRetry", () => {
  function fakeClock() {
    let nowMs = 0;
    const sleeps: number[] = [];
    return {
      sleeps,
      now: () => nowMs,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        nowMs += ms;
      },
    };
  }

  it("retries transient failures with growing waits until the call succeeds", async () => {
    const clock = fakeClock();
    let calls = 0;
    const result = await withAdminRetry(
      "test",
      async () => {
        calls += 1;
        if (calls < 4) throw notEnabled();
        return "created";
      },
      { logger, now: clock.now, sleep: clock.sleep },
    );
    expect(result).toBe("created");
    expect(clock.sleeps).toEqual([250, 500, 1000]);
  });

  it("throws a permanent error at once", async () => {
    const clock = fakeClock();
    const refused = apiError(10_052, 400, "stream configuration invalid");
    await expect(
      withAdminRetry("test", () => Promise.reject(refused), { logger, now: clock.now, sleep: clock.sleep }),
    ).rejects.toBe(refused);
    expect(clock.sleeps).toEqual([]);
  });

  it("gives up with the last error when the budget is spent", async () => {
    const clock = fakeClock();
    await expect(
      withAdminRetry("test", () => Promise.reject(notEnabled()), {
        logger,
        budgetMs: 10_000,
        now: clock.now,
        sleep: clock.sleep,
      }),
    ).rejects.toThrow("jetstream is not enabled");
    expect(clock.sleeps.reduce((sum, ms) => sum + ms, 0)).toBeGreaterThanOrEqual(10_000);
  });
});
