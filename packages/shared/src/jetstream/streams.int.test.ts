// Streams and consumers against a real NATS server: created once, idempotent on every
// restart, safe when several services start at the same moment, and updated on a change.
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTestNats, testSubjectPrefix } from "../../../../test/support/test-env.ts";
import { createSubjects } from "../subjects/subjects.ts";
import {
  DEFAULT_STREAM_RETENTION,
  ensureConsumers,
  ensureStreams,
  StreamUpdateError,
  storeConsumerDefinitions,
  streamDefinitions,
  streamName,
} from "./streams.ts";

const logger = pino({ level: "silent" });

describe("ensureStreams and ensureConsumers", () => {
  let nc: NatsConnection;
  const subjects = createSubjects(testSubjectPrefix());
  const definitions = streamDefinitions(subjects, DEFAULT_STREAM_RETENTION);

  beforeAll(async () => {
    nc = await connectTestNats();
  });

  afterAll(async () => {
    const jsm = await jetstreamManager(nc);
    for (const { config } of definitions) await jsm.streams.delete(config.name).catch(() => undefined);
    await nc.close();
  });

  it("creates every stream once, even when several services race to do it", async () => {
    const jsm = await jetstreamManager(nc);
    await Promise.all([1, 2, 3].map(() => ensureStreams(jsm, definitions, logger)));
    await ensureStreams(jsm, definitions, logger);
    const telemetry = await jsm.streams.info(streamName(subjects, "telemetry"));
    expect(telemetry.config.subjects).toEqual([subjects.all("stats"), subjects.all("host")]);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    expect(
      names.filter((name) => name.startsWith(streamName(subjects, "telemetry").split("_")[0] ?? "")),
    ).toHaveLength(definitions.length);
  });

  it("updates a stream whose configuration changed", async () => {
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, definitions, logger);
    const longer = streamDefinitions(subjects, {
      ...DEFAULT_STREAM_RETENTION,
      telemetryMaxAgeMs: 48 * 3600_000,
    });
    await ensureStreams(jsm, longer, logger);
    const info = await jsm.streams.info(streamName(subjects, "telemetry"));
    expect(info.config.max_age).toBe(48 * 3600 * 1e9);
  });

  it("creates the store's durable consumers idempotently", async () => {
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, definitions, logger);
    const consumers = storeConsumerDefinitions(subjects, { maxAckPending: 5000, ackWaitMs: 30_000 });
    await Promise.all([ensureConsumers(jsm, consumers, logger), ensureConsumers(jsm, consumers, logger)]);
    await ensureConsumers(jsm, consumers, logger);
    const stats = await jsm.consumers.info(streamName(subjects, "telemetry"), "store-stats");
    expect(stats.config.filter_subject).toBe(subjects.all("stats"));
    expect(stats.config.max_ack_pending).toBe(5000);
  });
});

describe("ensureStreams on a single server asked for replicas", () => {
  it("refuses with an error naming the stream and the setting", async () => {
    const nc = await connectTestNats();
    const subjects = createSubjects(testSubjectPrefix());
    const jsm = await jetstreamManager(nc);
    try {
      // Existing R1 streams: a single server would accept the update and keep one copy.
      await ensureStreams(jsm, streamDefinitions(subjects, DEFAULT_STREAM_RETENTION), logger);
      const update = ensureStreams(jsm, streamDefinitions(subjects, DEFAULT_STREAM_RETENTION, 3), logger);
      await expect(update).rejects.toBeInstanceOf(StreamUpdateError);
      await expect(update).rejects.toThrow(
        `${streamName(subjects, "telemetry")} cannot have 3 replicas (num_replicas: 1 → 3): the NATS server is not part of a cluster`,
      );
      // New streams: the server refuses, and the error says what was asked.
      const fresh = createSubjects(testSubjectPrefix());
      const creation = ensureStreams(jsm, streamDefinitions(fresh, DEFAULT_STREAM_RETENTION, 3), logger);
      await expect(creation).rejects.toThrow(
        `${streamName(fresh, "telemetry")} cannot be created with replicas 3: the server says "replicas > 1 not supported in non-clustered mode"`,
      );
    } finally {
      for (const { config } of streamDefinitions(subjects, DEFAULT_STREAM_RETENTION)) {
        await jsm.streams.delete(config.name).catch(() => undefined);
      }
      await nc.close();
    }
  });
});
