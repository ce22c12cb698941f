import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { NatsSetupError } from "../errors/crowsnest-error.ts";
import { watchForRefusal } from "./nats-refusal-watch.ts";

const timing = { firstAttemptAfterMs: 5000, attemptEveryMs: 10_000, confirmations: 2 };

/** A watch whose attempts meet `outcomes` in turn, its sleeps recorded instead of waited. */
function watch(outcomes: (NatsSetupError | undefined | "reconnected")[]) {
  // More attempts than outcomes would be a watch that does not stop when it should.
  const attemptsAllowed = outcomes.length;
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const slept: number[] = [];
  let lost = true;
  let attempts = 0;
  const result = watchForRefusal({
    async attempt() {
      const outcome = outcomes[attempts];
      attempts += 1;
      if (attempts > attemptsAllowed) throw new Error("attempted after the last outcome");
      if (outcome === "reconnected") {
        lost = false;
        return undefined;
      }
      return outcome;
    },
    isLost: () => lost,
    sleep: async (ms) => void slept.push(ms),
    logger: pino({ level: "info" }, sink),
    timing,
  });
  return { result, lines, slept, attempts: () => attempts };
}

const untrusted = () =>
  new NatsSetupError("nats_tls", "the NATS server's certificate is not signed by the CA");

describe("watchForRefusal", () => {
  it("ends with a refusal met twice in a row, logging each with its code", async () => {
    const run = watch([untrusted(), untrusted()]);
    const { refusal, inARow } = await run.result;
    expect(refusal?.code).toBe("nats_tls");
    expect(inARow).toBe(2);
    expect(run.attempts()).toBe(2);
    expect(run.slept).toEqual([5000, 10_000]);
    expect(run.lines).toHaveLength(2);
    expect(run.lines[0]).toMatchObject({ level: 50, code: "nats_tls", refusals_in_a_row: 1 });
    expect(run.lines[0]?.msg).toBe(
      "NATS refuses this service since the connection was lost: the NATS server's certificate is not signed by the CA; exiting if it is refused again",
    );
    expect(run.lines[1]).toMatchObject({ level: 50, code: "nats_tls", refusals_in_a_row: 2 });
    expect(run.lines[1]?.msg).toBe(
      "NATS refuses this service since the connection was lost: the NATS server's certificate is not signed by the CA",
    );
  });

  it("counts again after a failure that may pass (a server down between two refusals)", async () => {
    const auth = new NatsSetupError("nats_auth", "NATS refused this service's credentials");
    const run = watch([untrusted(), undefined, untrusted(), auth]);
    expect((await run.result).refusal?.code).toBe("nats_auth");
    expect(run.attempts()).toBe(4);
    expect(run.lines.map((line) => line.refusals_in_a_row)).toEqual([1, 1, 2]);
  });

  it("ends without a refusal once the connection is back, and attempts no more", async () => {
    const run = watch([untrusted(), "reconnected", untrusted(), untrusted()]);
    expect(await run.result).toEqual({ refusal: undefined, inARow: 1 });
    expect(run.attempts()).toBe(2);
    expect(run.lines).toHaveLength(1);
  });

  it("attempts nothing when the connection is back before the first attempt", async () => {
    let attempts = 0;
    const back = await watchForRefusal({
      attempt: async () => {
        attempts += 1;
        return untrusted();
      },
      isLost: () => false,
      sleep: async () => undefined,
      logger: pino({ level: "silent" }),
      timing,
    });
    expect(back).toEqual({ refusal: undefined, inARow: 0 });
    expect(attempts).toBe(0);
  });

  it("goes on counting from the refusals of a loss just before", async () => {
    const refusal = await watchForRefusal({
      attempt: async () => untrusted(),
      isLost: () => true,
      sleep: async () => undefined,
      logger: pino({ level: "silent" }),
      timing,
      refusalsBefore: 1,
    });
    expect(refusal.inARow).toBe(2);
    expect(refusal.refusal?.code).toBe("nats_tls");
  });
});
