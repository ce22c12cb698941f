// JetStreamAckPublisher against a real NATS server: acknowledgements, duplicates by message id,
// a subject no stream listens on, and a publisher closed with publishes outstanding.

import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams } from "../../../../test/support/bus-fixtures.ts";
import { connectTestNats, testSubjectPrefix } from "../../../../test/support/test-env.ts";
import {
  DEFAULT_STREAM_RETENTION,
  ensureStreams,
  streamDefinitions,
  streamName,
} from "../jetstream/streams.ts";
import { createLogger } from "../log/logger.ts";
import { createSubjects } from "../subjects/subjects.ts";
import { AckTimeoutError, JetStreamAckPublisher, PublisherClosedError } from "./jetstream-ack-publisher.ts";

describe("JetStreamAckPublisher on a real NATS server", () => {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  let nc: NatsConnection;
  let publisher: JetStreamAckPublisher;

  beforeAll(async () => {
    nc = await connectTestNats();
    await ensureStreams(
      await jetstreamManager(nc),
      streamDefinitions(subjects, DEFAULT_STREAM_RETENTION),
      createLogger({ service: "collector", level: "warn" }),
    );
    publisher = new JetStreamAckPublisher({ nc });
  });

  afterAll(async () => {
    publisher?.close();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
  });

  it("resolves with the stream's acknowledgement, and stores a message id once", async () => {
    const subject = subjects.hostStats("node-1");
    const payload = new TextEncoder().encode("{}");
    const first = await publisher.publish(subject, payload, { msgID: "node-1/host/1" });
    expect(first).toMatchObject({ stream: streamName(subjects, "telemetry"), duplicate: false });
    const again = await publisher.publish(subject, payload, { msgID: "node-1/host/1" });
    expect(again).toEqual({ ...first, duplicate: true });
    const acks = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        publisher.publish(subject, payload, { msgID: `node-1/host/m${i}` }),
      ),
    );
    expect(new Set(acks.map((ack) => ack.seq)).size).toBe(200);
    expect(publisher.pending).toBe(0);
  });

  it("fails, retryable, where no stream listens", async () => {
    await expect(
      publisher.publish(`${prefix}.nostream.x`, new Uint8Array(), { msgID: "x", timeout: 2000 }),
    ).rejects.toMatchObject({ name: "NoStreamError", retryable: true });
  });

  it("fails outstanding publishes on close, and every later one at once", async () => {
    const closing = new JetStreamAckPublisher({ nc });
    // A core subscriber that never answers holds the publish open until close.
    const silent = nc.subscribe(`${prefix}.silent`);
    const outstanding = closing.publish(`${prefix}.silent`, new Uint8Array(), {
      msgID: "s",
      timeout: 10_000,
    });
    closing.close();
    await expect(outstanding).rejects.toBeInstanceOf(PublisherClosedError);
    await expect(
      closing.publish(subjects.hostStats("n"), new Uint8Array(), { msgID: "t" }),
    ).rejects.toBeInstanceOf(PublisherClosedError);
    silent.unsubscribe();
  });

  it("fails a publish nobody acknowledges at its timeout", async () => {
    const silent = nc.subscribe(`${prefix}.silent2`);
    const started = Date.now();
    await expect(
      publisher.publish(`${prefix}.silent2`, new Uint8Array(), { msgID: "s2", timeout: 300 }),
    ).rejects.toBeInstanceOf(AckTimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);
    silent.unsubscribe();
  });
});
