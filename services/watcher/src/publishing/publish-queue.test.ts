import { createLogger } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { createPublishQueue, type JetStreamPublisher } from "./publish-queue.ts";

const logger = createLogger({ service: "watcher", level: "silent" });
const message = (n: number) => ({ subject: `s.${n}`, data: new Uint8Array([n]), msgID: `id-${n}` });

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

describe("createPublishQueue", () => {
  it("publishes in order, retrying a failed message before the ones behind it", async () => {
    const js = flakyJetStream(3);
    const queue = createPublishQueue({ js, logger, retry: { initialMs: 1, maxMs: 2 } });
    for (const n of [1, 2, 3]) queue.enqueue(message(n));
    await queue.drain();
    expect(js.stored).toEqual(["s.1 id-1", "s.2 id-2", "s.3 id-3"]);
    expect(queue.pending).toBe(0);
  });

  it("drops the oldest queued messages when full, never the one in flight", async () => {
    const js = flakyJetStream(5);
    const queue = createPublishQueue({ js, logger, maxQueued: 2, retry: { initialMs: 1, maxMs: 1 } });
    for (const n of [1, 2, 3, 4]) queue.enqueue(message(n));
    await queue.drain();
    expect(js.stored).toEqual(["s.1 id-1", "s.4 id-4"]);
    expect(queue.dropped).toBe(2);
  });

  it("gives up after a few attempts once closed, so shutdown ends while NATS is away", async () => {
    const js = flakyJetStream(Number.POSITIVE_INFINITY);
    const queue = createPublishQueue({
      js,
      logger,
      retry: { initialMs: 1, maxMs: 1 },
      attemptsAfterClose: 2,
    });
    queue.enqueue(message(1));
    queue.enqueue(message(2));
    await queue.close();
    expect(queue.dropped).toBe(2);
    queue.enqueue(message(3));
    expect(queue.dropped).toBe(3);
    expect(queue.pending).toBe(0);
  });

  it("runs a callback once everything queued before it is stored, and skips it after a loss", async () => {
    const js = flakyJetStream(2);
    const queue = createPublishQueue({ js, logger, maxQueued: 2, retry: { initialMs: 1, maxMs: 1 } });
    const seen: string[] = [];
    queue.enqueue(message(1));
    queue.afterStored(() => seen.push(`after 1: ${js.stored.length} stored`));
    await queue.drain();
    // 2 is dropped by the overflow (3 and 4 wait behind the in-flight 1): the callback behind
    // 2 does not run, the one after that does.
    const failing = flakyJetStream(3);
    const queue2 = createPublishQueue({
      js: failing,
      logger,
      maxQueued: 3,
      retry: { initialMs: 1, maxMs: 1 },
    });
    queue2.enqueue(message(1));
    queue2.enqueue(message(2));
    queue2.afterStored(() => seen.push("after 2"));
    queue2.enqueue(message(3));
    queue2.enqueue(message(4));
    queue2.afterStored(() => seen.push("after 4"));
    await queue2.drain();
    expect(failing.stored).toEqual(["s.1 id-1", "s.3 id-3", "s.4 id-4"]);
    expect(seen).toEqual(["after 1: 1 stored", "after 4"]);
    expect(queue2.pending).toBe(0);
  });
});
