// A message the bus refuses for what it is must not hold up the watcher's later messages (the
// watcher's earlier queue retried every failure forever, so one such message blocked every event
// behind it). Against a real NATS server: an inventory cut for a larger max payload than the
// server's, between two events, is logged and given up, and the event after it is published.
import {
  createLogger,
  createSubjects,
  DEFAULT_STREAM_RETENTION,
  ensureStreams,
  streamDefinitions,
} from "@crowsnest/shared";
import { JetStreamAckPublisher } from "@crowsnest/shared/publishing";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deleteTestStreams,
  eventFixture,
  inventoryContainerFixture,
  recordWatcherMessages,
  type WatcherMessage,
} from "../../../../test/support/bus-fixtures.ts";
import { captureLogger, linesWith } from "../../../../test/support/capture-logger.ts";
import { connectTestNats, eventually, testSubjectPrefix } from "../../../../test/support/test-env.ts";
import { enqueueInventory } from "../inventory/inventory-enqueue.ts";
import { createEventPublisher } from "./event-publisher.ts";
import { createWatcherQueue } from "./watcher-queue.ts";

describe("the watcher's publishing when the bus refuses a message", () => {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  const received: WatcherMessage[] = [];
  const undecodable: string[] = [];
  let nc: NatsConnection;
  let subscription: Subscription;
  let js: JetStreamAckPublisher;

  beforeAll(async () => {
    nc = await connectTestNats();
    await ensureStreams(
      await jetstreamManager(nc),
      streamDefinitions(subjects, DEFAULT_STREAM_RETENTION),
      createLogger({ service: "watcher", level: "warn" }),
    );
    subscription = recordWatcherMessages(nc, subjects.root, received, undecodable);
    js = new JetStreamAckPublisher({ nc });
  });

  afterAll(async () => {
    js?.close();
    subscription?.unsubscribe();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
  });

  it("gives up a message above the server's max payload with a log line, and publishes the events after it", async () => {
    const { logger, lines } = captureLogger();
    const queue = createWatcherQueue(js, logger);
    const publish = createEventPublisher({ queue, subjects, logger });
    const serverMaxPayload = nc.info?.max_payload ?? 1024 * 1024;
    const host = "host-a";

    const before = eventFixture({ action: "start", ts: "2026-11-21T20:51:13.100Z" });
    const after = eventFixture({ action: "die", ts: "2026-11-21T20:51:14.100Z", exit_code: 0 });
    expect(publish(before)).toBe(true);
    // Cut for four times the server's limit: one part, larger than the server takes.
    const bigLabel = "x".repeat(4096);
    const containers = Array.from({ length: Math.ceil((serverMaxPayload * 1.5) / 4096) }, (_, i) =>
      inventoryContainerFixture({
        external_id: i.toString(16).padStart(64, "0"),
        name: `c${i}`,
        labels: { big: bigLabel },
      }),
    );
    enqueueInventory(
      { queue, subjects, host, runtime: "docker", logger, maxPayloadBytes: () => serverMaxPayload * 4 },
      "periodic",
      containers,
    );
    expect(publish(after)).toBe(true);

    expect(await queue.flush(15_000)).toBe(true);
    await eventually(() => (received.length >= 2 ? true : undefined), {
      timeoutMs: 10_000,
      what: "both events on the bus",
    });
    expect(received.map((entry) => (entry.kind === "event" ? entry.event.event_id : "inventory"))).toEqual([
      before.event_id,
      after.event_id,
    ]);
    expect(undecodable).toEqual([]);
    expect(queue.counts()).toMatchObject({ rejected: 1, published: 2, waiting: 0, inFlight: 0 });
    const refusals = linesWith(lines, "warn", "refused");
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ subject: subjects.inventory(host, "docker") });
    await queue.stop(1000);
  });
});
