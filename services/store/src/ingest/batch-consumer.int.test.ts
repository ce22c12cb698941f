// The batch consumer against a real JetStream consumer: a message it holds is never delivered
// again while its batch takes longer than the ack wait (a split into single rows, an outage).
import { createLogger, type DeadletterSink } from "@crowsnest/shared";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTestNats, eventually, testSubjectPrefix } from "../../../../test/support/test-env.ts";
import { BatchConsumer } from "./batch-consumer.ts";

const prefix = testSubjectPrefix();
const STREAM = `${prefix.toUpperCase()}_BATCHES`;
const ACK_WAIT_MS = 10_000;

describe("batch consumer", () => {
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await connectTestNats();
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: [`${prefix}.>`] });
    await jsm.consumers.add(STREAM, {
      durable_name: "writer",
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ACK_WAIT_MS),
    });
  });

  afterAll(async () => {
    if (nc) {
      await (await jetstreamManager(nc)).streams.delete(STREAM);
      await nc.close();
    }
  });

  it("keeps the messages of a batch that takes longer than the ack wait from being delivered again", async () => {
    const js = jetstream(nc);
    const written: string[] = [];
    let slowWrites = 1;
    const consumer = new BatchConsumer<string>({
      name: "test",
      source: await js.consumers.get(STREAM, "writer"),
      decode: (data) => ({ ok: true, value: new TextDecoder().decode(data) }),
      write: async (values) => {
        // The first batch takes two and a half ack waits to write.
        if (slowWrites-- > 0) await new Promise((resolve) => setTimeout(resolve, 2.5 * ACK_WAIT_MS));
        written.push(...values);
      },
      isDataError: () => false,
      deadletters: {} as DeadletterSink, // nothing here is refused
      batchSize: 100,
      batchWaitMs: 50,
      ackWaitMs: ACK_WAIT_MS,
      logger: createLogger({ service: "store", level: "silent" }),
    });
    consumer.start();
    try {
      const published = Array.from({ length: 20 }, (_, index) => `m${index}`);
      for (const text of published) await js.publish(`${prefix}.m`, new TextEncoder().encode(text));
      await eventually(() => (written.length >= published.length ? true : undefined), {
        timeoutMs: 4 * ACK_WAIT_MS,
        what: "the slow batch written",
      });
      // One more, written only after anything delivered before it (a second copy included).
      await js.publish(`${prefix}.m`, new TextEncoder().encode("last"));
      await eventually(() => (written.includes("last") ? true : undefined), {
        timeoutMs: 20_000,
        what: "the last message written",
      });
      expect(written).toEqual([...published, "last"]);
    } finally {
      await consumer.stop();
    }
  }, 120_000);
});
