// Postgres goes away for 20 s while samples keep coming: the store stops pulling, retries with
// backoff, resumes where it left off, and nothing is lost. Runs against a private Postgres
// cluster, so stopping it disturbs no one else.
import { createSubjects, streamName } from "@crowsnest/shared";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams, publishStats, statsFixture } from "../../../../test/support/bus-fixtures.ts";
import { TEST_DAY_MS } from "../../../../test/support/test-clock.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
} from "../../../../test/support/test-env.ts";
import { createPrivatePostgres, type PrivatePostgres } from "../fixtures/private-postgres.ts";
import { type StoreProcess, spawnStore } from "../fixtures/store-process.ts";

const prefix = testSubjectPrefix();
const subjects = createSubjects(prefix);
const OUTAGE_MS = 20_000;
const BATCH_SIZE = 200;
/**
 * Messages the store may hold while it cannot write (docs/store.md, Ingest): two batches the
 * client pulled, two queued, one decoding and two being written.
 */
const MOST_IN_FLIGHT = 7 * BATCH_SIZE;

describe("Postgres unavailable for 20 s", () => {
  let postgres: PrivatePostgres;
  let nc: NatsConnection;
  let store: StoreProcess;

  beforeAll(async () => {
    postgres = await createPrivatePostgres();
    nc = await connectTestNats();
    store = spawnStore({
      CROWSNEST_DATABASE_URL: postgres.url,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_INGEST_BATCH_SIZE: String(BATCH_SIZE),
      CROWSNEST_INGEST_BATCH_WAIT_MS: "50",
      CROWSNEST_INGEST_ACK_WAIT_MS: "5000",
    });
    await store.waitForLog((record) => record.msg === "store started");
  });

  afterAll(async () => {
    const exitCode = await store?.stop();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    postgres?.remove();
    expect(exitCode).toBe(0);
  });

  it("loses nothing published during the outage", async () => {
    const js = jetstream(nc);
    let sent = 0;
    let publishing = true;
    // 100 containers, one sample each every 500 ms, for the whole test.
    const publisher = (async () => {
      for (let round = 0; publishing; round++) {
        const ts = new Date(TEST_DAY_MS + 9 * 3_600_000 + round * 10_000).toISOString();
        await Promise.all(
          Array.from({ length: 100 }, (_, c) =>
            publishStats(
              js,
              subjects,
              statsFixture({
                container: { external_id: c.toString(16).padStart(64, "0"), name: `c${c}` },
                ts,
              }),
            ),
          ),
        );
        sent += 100;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    const count = async () => {
      const client = new pg.Client({ connectionString: postgres.url });
      await client.connect();
      try {
        return (await client.query("SELECT count(*)::int AS n FROM container_stats")).rows[0].n as number;
      } finally {
        await client.end();
      }
    };
    await eventually(async () => ((await count()) >= 1000 ? true : undefined), {
      timeoutMs: 20_000,
      what: "ingest under way",
    });
    postgres.stop();
    const stoppedAt = Date.now();
    await store.waitForLog((record) => record.msg === "database write failed; retrying with backoff", 15_000);
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - (Date.now() - stoppedAt)));
    // The store stopped pulling: what was published meanwhile waits in the stream, not in it.
    const consumer = await (await jetstreamManager(nc)).consumers.info(
      streamName(subjects, "telemetry"),
      "store-stats",
    );
    expect(consumer.num_ack_pending).toBeLessThanOrEqual(MOST_IN_FLIGHT);
    expect(consumer.num_pending).toBeGreaterThan(0);
    postgres.start();
    await store.waitForLog((record) => record.msg === "database writes resumed", 40_000);
    // Keep publishing a little after the return, then stop and wait for every sample.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    publishing = false;
    await publisher;
    const stored = await eventually(
      async () => {
        const n = await count();
        return n >= sent ? n : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 500, what: `all ${sent} samples stored` },
    );
    expect(stored).toBe(sent);
    // The outage was logged once per consumer, not once per retry.
    const failures = store.logs.filter(
      (record) => record.msg === "database write failed; retrying with backoff",
    );
    expect(failures.length).toBeLessThanOrEqual(4);
    expect(
      store.logs.some(
        (record) => record.msg === "periodic job recovered" || record.msg === "database writes resumed",
      ),
    ).toBe(true);
  }, 120_000);
});
