// Dead letters as a user of the bus sees them, from the store's real process at the shortest
// ack wait it accepts (5 s): each message the store cannot use is dead-lettered exactly once,
// and the stream's consumers end with nothing pending, whatever the message.
import { createHash } from "node:crypto";
import { codecs, createSubjects, type DeadletterMessage, streamName } from "@crowsnest/shared";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams, publishStats, statsFixture } from "../../../../test/support/bus-fixtures.ts";
import {
  connectTestNats,
  createTestDatabase,
  eventually,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../../test/support/test-env.ts";
import { type StoreProcess, spawnStore } from "../fixtures/store-process.ts";
import { DEADLETTER_ATTEMPTS } from "./deadletter-reject.ts";

const prefix = testSubjectPrefix();
const subjects = createSubjects(prefix);
const HOUR_MS = 3_600_000;
/** Yesterday 12:00 UTC: well inside the raw retention, in a closed day. */
const BASE_MS = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 12 * HOUR_MS;

describe("dead letters", () => {
  let database: TestDatabase;
  let nc: NatsConnection;
  let store: StoreProcess;
  let client: pg.Client;
  let sentinels = 0;

  const consumerInfo = async () =>
    (await jetstreamManager(nc)).consumers.info(streamName(subjects, "telemetry"), "store-stats");

  /** Every dead letter in the stream, oldest first. */
  const readDeadletters = async (): Promise<DeadletterMessage[]> => {
    const stream = streamName(subjects, "deadletter");
    const total = (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
    const letters: DeadletterMessage[] = [];
    if (total === 0) return letters;
    const messages = await (await jetstream(nc).consumers.get(stream)).consume();
    for await (const msg of messages) {
      const decoded = codecs.deadletter.decode(msg.data);
      if (!decoded.ok) throw new Error(`a dead letter the contract does not accept: ${decoded.detail}`);
      letters.push(decoded.value);
      if (msg.info.pending === 0) break;
    }
    await messages.close();
    return letters;
  };

  /**
   * Waits until the store has finished with everything published so far: a good sample
   * published now is stored and acknowledged only after every message delivered before it
   * (batches finish in delivery order), redelivered copies included.
   */
  const settle = async (timeoutMs: number) => {
    const ts = new Date(BASE_MS + HOUR_MS + sentinels++ * 1000).toISOString();
    await publishStats(
      jetstream(nc),
      subjects,
      statsFixture({ ts, container: { external_id: "s".repeat(64), name: "s" } }),
    );
    await eventually(
      async () => {
        const stored = await client.query("SELECT 1 FROM container_stats WHERE ts = $1", [ts]);
        if (stored.rowCount !== 1) return undefined;
        const info = await consumerInfo();
        return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
      },
      { timeoutMs, intervalMs: 500, what: "the store to finish with what was published" },
    );
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    nc = await connectTestNats();
    store = spawnStore({
      CROWSNEST_DATABASE_URL: database.url,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_INGEST_ACK_WAIT_MS: "5000",
      CROWSNEST_INGEST_BATCH_WAIT_MS: "50",
    });
    await store.waitForLog((record) => record.msg === "store started");
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });

  afterAll(async () => {
    const exitCode = await store?.stop();
    await client?.end();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    await database?.drop();
    expect(exitCode).toBe(0);
  });

  it("dead-letters each row Postgres refuses once, however long finding them takes", async () => {
    // Every other sample has a pid count beyond Postgres' integer: valid by the contract,
    // refused by the table, so each batch is split down to single rows to find them.
    const js = jetstream(nc);
    const total = 3000;
    const refused = new Set<string>();
    for (let start = 0; start < total; start += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, offset) => {
          const index = start + offset;
          const ts = new Date(BASE_MS + index * 1000).toISOString();
          if (index % 2 === 1) refused.add(ts);
          return publishStats(js, subjects, statsFixture({ ts, pids: index % 2 === 1 ? 3_000_000_000 : 1 }));
        }),
      );
    }
    await settle(180_000);

    const letters = await readDeadletters();
    const perSample = new Map<string, number>();
    for (const letter of letters) {
      expect(letter.reason).toBe("unprocessable");
      const ts = (JSON.parse(letter.payload) as { ts: string }).ts;
      perSample.set(ts, (perSample.get(ts) ?? 0) + 1);
    }
    expect([...perSample.keys()].sort()).toEqual([...refused].sort());
    expect([...perSample.values()].filter((n) => n > 1)).toEqual([]);
    const stored = await client.query("SELECT count(*)::int AS n FROM container_stats WHERE ts < $1", [
      new Date(BASE_MS + HOUR_MS),
    ]);
    expect(stored.rows[0].n).toBe(total - refused.size);
  }, 240_000);

  it("dead-letters messages at the server's max payload once each, cut to fit, and acknowledges them", async () => {
    const js = jetstream(nc);
    const maxPayloadBytes = nc.info?.max_payload ?? 0;
    expect(maxPayloadBytes).toBeGreaterThan(900_000);
    const subject = subjects.stats("host-a", "docker", "big");
    const padded = (prefix: string, suffix: string) =>
      new TextEncoder().encode(
        prefix + "x".repeat(maxPayloadBytes - 100 - prefix.length - suffix.length) + suffix,
      );
    const refusedMessages = {
      // Within 100 bytes of the max payload: the dead letter's own fields would push it over.
      invalid_json: padded('{"v":1,"pad":"', ""),
      invalid_schema: padded('{"v":1,"pad":"', '"}'),
      // 800 KB of bytes that are not UTF-8: their base64 would be 1.07 MB.
      binary: new Uint8Array(800_000).map((_, index) => 0x80 + (index % 0x7f)),
    };
    const before = (await readDeadletters()).length;
    for (const data of Object.values(refusedMessages)) await js.publish(subject, data);
    await settle(120_000);

    const letters = (await readDeadletters()).slice(before);
    const bySha = new Map(letters.map((letter) => [letter.payload_sha256, letter]));
    expect(letters).toHaveLength(3);
    for (const [kind, data] of Object.entries(refusedMessages)) {
      const letter = bySha.get(createHash("sha256").update(data).digest("hex"));
      expect(letter, kind).toMatchObject({
        subject,
        reason: kind === "binary" ? "invalid_json" : kind,
        payload_truncated: true,
        payload_size_bytes: data.length,
        payload_encoding: kind === "binary" ? "base64" : "utf8",
      });
      const start = Buffer.from(letter?.payload ?? "", kind === "binary" ? "base64" : "utf8");
      expect(start.length).toBeGreaterThan(data.length * 0.7);
      expect(start.equals(Buffer.from(data.subarray(0, start.length)))).toBe(true);
    }
    expect(store.logs.filter((record) => String(record.msg).startsWith("could not dead-letter"))).toEqual([]);
  }, 180_000);

  // Last: it takes the dead-letter stream away.
  it("gives a message up after a few deliveries when its dead letter cannot be sent, with one log line", async () => {
    await (await jetstreamManager(nc)).streams.delete(streamName(subjects, "deadletter"));
    const data = new TextEncoder().encode("{no dead letter for this one");
    await jetstream(nc).publish(subjects.stats("host-a", "docker", "lost"), data);
    const gaveUp = await store.waitForLog(
      (record) => record.msg === "could not dead-letter a message; gave up and terminated it",
      90_000,
    );
    expect(gaveUp).toMatchObject({
      level: "error",
      reason: "invalid_json",
      attempts: DEADLETTER_ATTEMPTS,
      payload_size_bytes: data.length,
      payload_sha256: createHash("sha256").update(data).digest("hex"),
    });
    await settle(60_000);
    const lines = store.logs.filter((record) => String(record.msg).startsWith("could not dead-letter"));
    // One line for the message given up (the retries before it log at debug).
    expect(lines.map((record) => record.level)).toEqual(["error"]);
  }, 180_000);
});
