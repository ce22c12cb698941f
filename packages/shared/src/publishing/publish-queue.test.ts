import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { captureLogger, linesWith } from "../../../../test/support/capture-logger.ts";
import { createLogger } from "../log/logger.ts";
import {
  AckTimeoutError,
  DisconnectedError,
  InvalidAckError,
  NoStreamError,
  StreamRefusedError,
} from "./jetstream-ack-publisher.ts";
import { isRetryablePublishError } from "./publish-failure.ts";
import { type JetStreamPublisher, type OutgoingMessage, PublishQueue } from "./publish-queue.ts";

/** A JetStream whose acknowledgements the test releases, or that is down. */
class FakeJetStream implements JetStreamPublisher {
  /** In the order the stream stored them (a message id stored once, as JetStream's duplicate window does). */
  readonly stored: string[] = [];
  readonly attempts: string[] = [];
  down = false;
  /** Acknowledge immediately (true) or only when release() is called. */
  autoAck = true;
  inFlight = 0;
  maxInFlight = 0;
  refuse: ((msgID: string) => Error | undefined) | undefined;
  readonly #held: (() => void)[] = [];

  publish(
    _subject: string,
    _payload: Uint8Array,
    options: { msgID: string; timeout?: number },
  ): Promise<unknown> {
    this.attempts.push(options.msgID);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve, reject) => {
      const settle = () => {
        this.inFlight -= 1;
        const refusal = this.refuse?.(options.msgID);
        if (refusal) return reject(refusal);
        if (this.down) return reject(Object.assign(new Error("timeout"), { name: "TimeoutError" }));
        if (!this.stored.includes(options.msgID)) this.stored.push(options.msgID);
        resolve({ stream: "S", seq: this.stored.length });
      };
      if (this.autoAck) queueMicrotask(settle);
      else this.#held.push(settle);
    });
  }

  release(): void {
    for (const settle of this.#held.splice(0)) settle();
  }
}

const message = (n: number): OutgoingMessage => ({
  subject: "acme.v1.stats.h.docker.c",
  payload: new Uint8Array([n]),
  msgID: `m${n}`,
});

function setup(options: { maxBuffered?: number; maxInFlight?: number; batchDelayMs?: number } = {}) {
  const js = new FakeJetStream();
  const { logger, lines } = captureLogger();
  const queue = new PublishQueue({
    js,
    logger,
    maxBuffered: options.maxBuffered ?? 1000,
    maxInFlight: options.maxInFlight ?? 4,
    retryDelayMs: 5,
    probeTimeoutMs: 50,
    ...(options.batchDelayMs === undefined ? {} : { batchDelayMs: options.batchDelayMs }),
  });
  return { js, queue, lines };
}

const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);

describe("PublishQueue", () => {
  it("publishes in order with at most `maxInFlight` acknowledgements outstanding, without blocking the caller", async () => {
    const { js, queue } = setup({ maxInFlight: 3 });
    js.autoAck = false;
    for (let i = 1; i <= 10; i++) queue.enqueue(message(i));
    // enqueue returned at once, with three sent and seven waiting.
    expect(queue.counts()).toMatchObject({ inFlight: 3, waiting: 7 });
    while (queue.counts().inFlight > 0) {
      js.release();
      await sleep(0);
    }
    expect(js.maxInFlight).toBe(3);
    expect(js.stored).toEqual(ids(1, 10));
    expect(queue.counts()).toEqual({ waiting: 0, inFlight: 0, published: 10, dropped: 0, rejected: 0 });
  });

  it("with a batch delay, sends what arrives within it together, in order", async () => {
    const { js, queue } = setup({ batchDelayMs: 30 });
    queue.enqueue(message(1));
    await sleep(5);
    queue.enqueue(message(2));
    expect(js.attempts).toEqual([]);
    expect(queue.counts().waiting).toBe(2);
    expect(await queue.flush(1000)).toBe(true);
    expect(js.stored).toEqual(["m1", "m2"]);
  });

  it("sends what waits for the batch delay at once when told the batch is complete", () => {
    const { js, queue } = setup({ batchDelayMs: 60_000 });
    queue.enqueue(message(1));
    queue.enqueue(message(2));
    expect(js.attempts).toEqual([]);
    queue.sendNow();
    // Synchronously, without waiting out the minute.
    expect(js.attempts).toEqual(["m1", "m2"]);
    queue.enqueue(message(3));
    expect(js.attempts).toEqual(["m1", "m2"]);
    queue.sendNow();
    expect(js.attempts).toEqual(["m1", "m2", "m3"]);
  });

  it("keeps every message through an outage and sends them in order once the bus answers, logging the outage once", async () => {
    const { js, queue, lines } = setup();
    queue.enqueue(message(1));
    await queue.flush(1000);
    js.down = true;
    for (let i = 2; i <= 30; i++) {
      queue.enqueue(message(i));
      await sleep(1);
    }
    expect(queue.inOutage).toBe(true);
    expect(js.stored).toEqual(["m1"]);
    js.down = false;
    expect(await queue.flush(2000)).toBe(true);
    expect(js.stored).toEqual(ids(1, 30));
    expect(queue.inOutage).toBe(false);
    expect(linesWith(lines, "warn", "publishing to the bus failed")).toHaveLength(1);
    const recovered = linesWith(lines, "info", "publishing to the bus works again");
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).toMatchObject({ dropped: 0 });
    // During the outage only one attempt at a time was made, not one per message.
    expect(js.attempts.length).toBeLessThan(30 + 200);
  });

  it("puts messages that failed in flight back ahead of newer ones, in their order", async () => {
    const { js, queue } = setup({ maxInFlight: 5 });
    js.autoAck = false;
    for (let i = 1; i <= 5; i++) queue.enqueue(message(i));
    js.down = true;
    js.release();
    await sleep(0);
    for (let i = 6; i <= 8; i++) queue.enqueue(message(i));
    js.down = false;
    js.autoAck = true;
    js.release();
    expect(await queue.flush(2000)).toBe(true);
    expect(js.stored).toEqual(ids(1, 8));
  });

  it("beyond its bound drops the oldest, counts them, and says how many when the outage ends", async () => {
    const { js, queue, lines } = setup({ maxBuffered: 10, maxInFlight: 1 });
    js.down = true;
    for (let i = 1; i <= 25; i++) {
      queue.enqueue(message(i));
      await sleep(1);
    }
    const counts = queue.counts();
    expect(counts.waiting + counts.inFlight).toBeLessThanOrEqual(11);
    expect(counts.dropped).toBeGreaterThanOrEqual(14);
    expect(linesWith(lines, "warn", "publish queue full")).toHaveLength(1);
    js.down = false;
    expect(await queue.flush(2000)).toBe(true);
    // The newest survive, in order; what was dropped is exactly what is missing.
    expect(js.stored.at(-1)).toBe("m25");
    expect(js.stored).toEqual([...js.stored].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))));
    expect(js.stored.length + queue.counts().dropped).toBe(25);
    const recovered = linesWith(lines, "info", "publishing to the bus works again");
    expect(recovered[0]?.dropped).toBe(queue.counts().dropped);
  });

  it("does not send a refused message again, and goes on with the others", async () => {
    const { js, queue, lines } = setup();
    const refusal = Object.assign(new Error("maximum message size exceeded"), {
      name: "JetStreamApiError",
      status: 400,
    });
    js.refuse = (id) => (id === "m2" || id === "m3" ? refusal : undefined);
    for (let i = 1; i <= 4; i++) queue.enqueue(message(i));
    expect(await queue.flush(1000)).toBe(true);
    expect(js.stored).toEqual(["m1", "m4"]);
    expect(js.attempts.filter((id) => id === "m2")).toHaveLength(1);
    expect(queue.counts()).toMatchObject({ rejected: 2, published: 2 });
    expect(linesWith(lines, "warn", "refused")).toHaveLength(1);
  });

  it("never throws when the client throws synchronously, and keeps the message", async () => {
    const { js, queue } = setup();
    let throwing = true;
    const publish = js.publish.bind(js);
    js.publish = (subject, payload, options) => {
      if (throwing) throw new Error("connection closed");
      return publish(subject, payload, options);
    };
    expect(() => queue.enqueue(message(1))).not.toThrow();
    throwing = false;
    expect(await queue.flush(1000)).toBe(true);
    expect(js.stored).toEqual(["m1"]);
  });

  it("on stop, gives up after its timeout, says what was lost, and sends nothing more", async () => {
    const { js, queue, lines } = setup();
    js.down = true;
    queue.enqueue(message(1));
    queue.enqueue(message(2));
    await queue.stop(100);
    expect(linesWith(lines, "warn", "stopping with messages")[0]).toMatchObject({ unsent: 2 });
    const attempts = js.attempts.length;
    await sleep(50);
    expect(js.attempts.length).toBe(attempts);
  });
});

describe("isRetryablePublishError", () => {
  it("retries what may succeed later and not what would fail again", () => {
    const named = (name: string, extra: object = {}) => Object.assign(new Error(name), { name }, extra);
    for (const error of [
      named("TimeoutError"),
      named("NoRespondersError"),
      named("JetStreamNotEnabled"),
      named("ClosedConnectionError"),
      named("JetStreamApiError", { status: 503 }),
      // What a JetStream cluster answers while it elects its leader.
      named("JetStreamNotEnabled", { message: "jetstream is not enabled" }),
      new StreamRefusedError("jetstream not enabled for account", 503, 10039),
      new NoStreamError("no JetStream stream listens on the subject"),
      new AckTimeoutError("no acknowledgement"),
      new DisconnectedError("dropped"),
      new Error("anything else"),
      "not even an error",
    ]) {
      expect(isRetryablePublishError(error)).toBe(true);
    }
    for (const error of [
      named("JetStreamApiError", { status: 400 }),
      named("JetStreamError"),
      named("InvalidSubjectError"),
      named("PermissionViolationError"),
      named("InvalidArgumentError", { message: "max_payload size exceeded" }),
      new StreamRefusedError("message size exceeds maximum allowed", 400, 10054),
      new InvalidAckError("the reply is not a PubAck"),
    ]) {
      expect(isRetryablePublishError(error)).toBe(false);
    }
  });
});

describe("PublishQueue one message at a time, with callbacks (as the watcher uses it)", () => {
  const quiet = createLogger({ service: "watcher", level: "silent" });
  const numbered = (n: number): OutgoingMessage => ({
    subject: `s.${n}`,
    payload: new Uint8Array([n]),
    msgID: `id-${n}`,
  });

  /** Fails the first `failures` publish calls, then stores everything. */
  function flakyJetStream(failures: number): JetStreamPublisher & { stored: string[]; calls: number } {
    const js = {
      stored: [] as string[],
      calls: 0,
      async publish(subject: string, _payload: Uint8Array, options: { msgID: string }) {
        js.calls += 1;
        if (js.calls <= failures) throw new Error("timeout");
        js.stored.push(`${subject} ${options.msgID}`);
        return {};
      },
    };
    return js;
  }

  /** `maxBuffered` waiting besides the one in flight. */
  const oneAtATime = (js: JetStreamPublisher, maxBuffered: number, retryDelayMs = 1) =>
    new PublishQueue({ js, logger: quiet, maxBuffered, maxInFlight: 1, retryDelayMs });
  const pending = (queue: PublishQueue) => queue.counts().waiting + queue.counts().inFlight;

  it("publishes in order, retrying a failed message before the ones behind it", async () => {
    const js = flakyJetStream(3);
    const queue = oneAtATime(js, 10_000);
    for (const n of [1, 2, 3]) queue.enqueue(numbered(n));
    expect(await queue.flush(5000)).toBe(true);
    expect(js.stored).toEqual(["s.1 id-1", "s.2 id-2", "s.3 id-3"]);
    expect(pending(queue)).toBe(0);
  });

  it("drops the oldest queued messages when full, never the one in flight", async () => {
    const js = flakyJetStream(5);
    const queue = oneAtATime(js, 1);
    for (const n of [1, 2, 3, 4]) queue.enqueue(numbered(n));
    expect(await queue.flush(5000)).toBe(true);
    expect(js.stored).toEqual(["s.1 id-1", "s.4 id-4"]);
    expect(queue.counts().dropped).toBe(2);
  });

  it("gives up once stopped, so shutdown ends while NATS is away", async () => {
    const js = flakyJetStream(Number.POSITIVE_INFINITY);
    // The retry after the first failure would come only in a minute: stop() finds both waiting.
    const queue = oneAtATime(js, 10_000, 60_000);
    queue.enqueue(numbered(1));
    queue.enqueue(numbered(2));
    await queue.stop(50);
    expect(queue.counts().dropped).toBe(2);
    queue.enqueue(numbered(3));
    expect(queue.counts().dropped).toBe(3);
    expect(pending(queue)).toBe(0);
  });

  it("runs a callback once everything queued before it is stored, and skips it after a loss", async () => {
    const js = flakyJetStream(2);
    const queue = oneAtATime(js, 1);
    const seen: string[] = [];
    queue.enqueue(numbered(1));
    queue.afterStored(() => seen.push(`after 1: ${js.stored.length} stored`));
    expect(await queue.flush(5000)).toBe(true);
    // 2 is dropped by the overflow (3 and 4 wait behind the in-flight 1): the callback behind
    // 2 does not run, the one after that does.
    const failing = flakyJetStream(3);
    const queue2 = oneAtATime(failing, 2);
    queue2.enqueue(numbered(1));
    queue2.enqueue(numbered(2));
    queue2.afterStored(() => seen.push("after 2"));
    queue2.enqueue(numbered(3));
    queue2.enqueue(numbered(4));
    queue2.afterStored(() => seen.push("after 4"));
    expect(await queue2.flush(5000)).toBe(true);
    expect(failing.stored).toEqual(["s.1 id-1", "s.3 id-3", "s.4 id-4"]);
    expect(seen).toEqual(["after 1: 1 stored", "after 4"]);
    expect(pending(queue2)).toBe(0);
  });

  it("skips the callback behind a refused message, runs the next, and sends what follows", async () => {
    const stored: string[] = [];
    const js: JetStreamPublisher = {
      async publish(_subject, _payload, options) {
        if (options.msgID === "id-2") {
          throw Object.assign(new Error("Permissions Violation for Publish"), {
            name: "PermissionViolationError",
          });
        }
        stored.push(options.msgID);
        return {};
      },
    };
    const queue = oneAtATime(js, 100);
    const seen: string[] = [];
    queue.enqueue(numbered(1));
    queue.afterStored(() => seen.push("after 1"));
    queue.enqueue(numbered(2));
    queue.afterStored(() => seen.push("after 2"));
    queue.enqueue(numbered(3));
    queue.afterStored(() => seen.push("after 3"));
    expect(await queue.flush(5000)).toBe(true);
    expect(stored).toEqual(["id-1", "id-3"]);
    expect(seen).toEqual(["after 1", "after 3"]);
    expect(queue.counts()).toMatchObject({ rejected: 1, published: 2 });
  });

  it("runs a callback at once when nothing is outstanding", () => {
    const queue = oneAtATime(flakyJetStream(0), 10);
    let ran = false;
    queue.afterStored(() => {
      ran = true;
    });
    expect(ran).toBe(true);
  });
});
