// Exactly once in the table under crashes: 20 000 samples published (some twice, under new
// message ids, as a collector retrying would) while the store is SIGKILLed a moment after each
// start and restarted, again and again. Every distinct sample must be stored, none twice.
//
// Each store is killed a random 0.5-2 s after it started consuming, not on a fixed clock: its
// start-up alone (loading its modules from source, about 1 s of CPU) took 8-12 s with the load
// average at 30-45 on 2 cores, so a store killed every 1.5-3 s never consumed anything, and the
// test only measured the last store's start and catch-up against a fixed 60 s.
import { createSubjects, type StatsMessage } from "@crowsnest/shared";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams, publishStats, statsFixture } from "../../../../test/support/bus-fixtures.ts";
import { TEST_DAY_MS } from "../../../../test/support/test-clock.ts";
import {
  connectTestNats,
  createTestDatabase,
  eventually,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../../test/support/test-env.ts";
import { type StoreProcess, spawnStore } from "../fixtures/store-process.ts";

const prefix = testSubjectPrefix();
const subjects = createSubjects(prefix);
const SAMPLES = 20_000;
const CONTAINERS = 200;

function nthSample(n: number): StatsMessage {
  const container = n % CONTAINERS;
  const step = Math.floor(n / CONTAINERS);
  return statsFixture({
    container: { external_id: container.toString(16).padStart(64, "0"), name: `c${container}` },
    ts: new Date(TEST_DAY_MS + 8 * 3_600_000 + step * 10_000).toISOString(),
    cpu_percent: n % 100,
    net_rx_bytes: step * 1000,
  });
}

describe("ingest while the store is killed over and over", () => {
  let database: TestDatabase;
  let nc: NatsConnection;
  let client: pg.Client;
  let store: StoreProcess | undefined;
  const env = () => ({
    CROWSNEST_DATABASE_URL: database.url,
    CROWSNEST_NATS_URL: natsUrl(),
    CROWSNEST_SUBJECT_PREFIX: prefix,
    CROWSNEST_INGEST_BATCH_SIZE: "2000",
    CROWSNEST_INGEST_BATCH_WAIT_MS: "100",
    // Messages a killed store held come back after this long.
    CROWSNEST_INGEST_ACK_WAIT_MS: "5000",
    CROWSNEST_LOG_LEVEL: "info",
  });

  beforeAll(async () => {
    database = await createTestDatabase();
    nc = await connectTestNats();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });

  afterAll(async () => {
    await store?.kill();
    await client?.end();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    await database?.drop();
  });

  it("stores every distinct sample exactly once", async () => {
    store = spawnStore(env());
    await store.waitForLog((record) => record.msg === "store started", START_TIMEOUT_MS);
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    let published = 0;
    let kills = 0;
    const publishing = (async () => {
      // About 2000 samples a second, 100 at a time; every 7th sample again under a new id.
      for (let start = 0; start < SAMPLES; start += 100) {
        const batch = [];
        for (let n = start; n < start + 100; n++) {
          batch.push(publishStats(js, subjects, nthSample(n)));
          if (n % 7 === 0) batch.push(publishStats(js, subjects, nthSample(n), `again-${n}`));
        }
        await Promise.all(batch);
        published = start + 100;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const killing = (async () => {
      while (published < SAMPLES || kills < 3) {
        await store?.waitForLog((record) => record.msg === "store started", START_TIMEOUT_MS);
        // A random moment of its ingest: the crash is the point, not a wait for something.
        await new Promise((resolve) => setTimeout(resolve, 500 + Math.random() * 1500));
        await store?.kill();
        kills += 1;
        store = spawnStore(env());
      }
    })();
    await Promise.all([publishing, killing]);
    expect(kills).toBeGreaterThanOrEqual(3);
    const count = await rowsWhileGrowing(client, SAMPLES);
    // Everything handed out has been acknowledged, so nothing more can arrive: still exactly SAMPLES.
    await eventually(
      async () => {
        const info = await jsm.consumers.info(`${prefix.toUpperCase()}_TELEMETRY`, "store-stats");
        return info.num_ack_pending === 0 && info.num_pending === 0 ? true : undefined;
      },
      { timeoutMs: 30_000, what: "all samples acknowledged" },
    );
    const final = await client.query(
      "SELECT count(*)::int AS n, count(DISTINCT (container_id, ts))::int AS distinct_n FROM container_stats",
    );
    expect(count).toBe(SAMPLES);
    expect(final.rows[0]).toEqual({ n: SAMPLES, distinct_n: SAMPLES });
    // Spot check: the 12 345th sample is stored with its own values.
    const spot = nthSample(12_345);
    const row = await client.query(
      `SELECT s.cpu_percent, s.net_rx_bytes::float8 AS net_rx_bytes FROM container_stats s JOIN containers c ON c.id = s.container_id
       WHERE c.external_id = $1 AND s.ts = $2`,
      [spot.container.external_id, spot.ts],
    );
    expect(row.rows).toEqual([{ cpu_percent: spot.cpu_percent, net_rx_bytes: spot.net_rx_bytes }]);
  }, 600_000);
});

/** How long a store (re)start may take before it consumes, on a loaded machine. */
const START_TIMEOUT_MS = 120_000;
/** How long the row count may stand still before the test gives up. */
const STALL_TIMEOUT_MS = 60_000;

/**
 * Waits until `target` rows are stored, for as long as the count keeps growing: the last store
 * catches up on what its killed predecessors left, at a pace that depends on the machine's load.
 */
async function rowsWhileGrowing(client: pg.Client, target: number): Promise<number> {
  let last = -1;
  let lastGrowthMs = Date.now();
  for (;;) {
    const result = await client.query("SELECT count(*)::int AS n FROM container_stats");
    const rows = result.rows[0].n as number;
    if (rows >= target) return rows;
    if (rows > last) {
      last = rows;
      lastGrowthMs = Date.now();
    } else if (Date.now() - lastGrowthMs > STALL_TIMEOUT_MS) {
      throw new Error(`${rows} of ${target} rows, and no new row for ${STALL_TIMEOUT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
