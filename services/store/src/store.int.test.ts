// The store as it runs: its real process against real Postgres and NATS. Publishes what a
// collector and watcher would, then checks what lands in the tables.
import { codecs, createSubjects, type EventMessage, type InventoryMessage } from "@crowsnest/shared";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deleteTestStreams,
  eventFixture,
  FIXTURE_HOST,
  inventoryContainerFixture,
  publishEvent,
  publishInventory,
  publishStats,
  statsFixture,
} from "../../../test/support/bus-fixtures.ts";
import { type ServiceProcess, startService } from "../../../test/support/service-process.ts";
import { testTime } from "../../../test/support/test-clock.ts";
import {
  connectTestNats,
  createTestDatabase,
  eventually,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../test/support/test-env.ts";

const prefix = testSubjectPrefix();
const subjects = createSubjects(prefix);
const HOST = FIXTURE_HOST;
const CONTAINER = { external_id: "c".repeat(64), name: "web.1" };
const sample = (ts: string, cpu: number | null) =>
  statsFixture({ ts, cpu_percent: cpu, interval_ms: cpu === null ? null : 10_000 });
const event = (action: string, ts: string, extra: Partial<EventMessage> = {}) =>
  eventFixture({ action, ts, ...extra });

describe("store ingest", () => {
  let database: TestDatabase;
  let store: ServiceProcess;
  let nc: NatsConnection;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = startService("store", {
      CROWSNEST_DATABASE_URL: database.url,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_INGEST_BATCH_WAIT_MS: "50",
      CROWSNEST_LOG_LEVEL: "debug",
    });
    await store.waitForLog((record) => record.msg === "store started");
    nc = await connectTestNats();
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

  it("stores each sample once, however often it is delivered", async () => {
    const js = jetstream(nc);
    const samples = [sample(testTime("10:00:00.000"), null), sample(testTime("10:00:10.000"), 55.5)];
    for (const message of samples) {
      const msgID = `${HOST}/docker/${CONTAINER.external_id}/${message.ts}`;
      await publishStats(js, subjects, message, msgID);
      await publishStats(js, subjects, message, msgID); // deduplicated by JetStream
      await publishStats(js, subjects, message, `${msgID}-again`); // reaches the store twice
    }
    const rows = await eventually(
      async () => {
        const result = await client.query(
          "SELECT ts, cpu_percent, mem_used FROM container_stats ORDER BY ts",
        );
        return result.rowCount === 2 ? result.rows : undefined;
      },
      { timeoutMs: 10_000, what: "two stats rows" },
    );
    expect(rows.map((row) => row.cpu_percent)).toEqual([null, 55.5]);
    // Every message above has been handled once the republished copies are acked; still two rows.
    await eventually(
      async () => {
        const info = await (await jetstreamManager(nc)).consumers.info(
          `${prefix.toUpperCase()}_TELEMETRY`,
          "store-stats",
        );
        return info.num_ack_pending === 0 && info.num_pending === 0 ? true : undefined;
      },
      { timeoutMs: 10_000, what: "all stats acked" },
    );
    const count = await client.query("SELECT count(*)::int AS n FROM container_stats");
    expect(count.rows[0].n).toBe(2);
    const container = await client.query("SELECT host, runtime, external_id, name FROM containers");
    expect(container.rows).toEqual([
      { host: HOST, runtime: "docker", external_id: CONTAINER.external_id, name: "web.1" },
    ]);
  });

  it("records events once and moves the state forward only to newer news", async () => {
    const js = jetstream(nc);
    const publish = (message: EventMessage) => publishEvent(js, subjects, message);
    const start = event("start", testTime("10:00:00.000"));
    const die = event("die", testTime("10:05:00.000"), { exit_code: 3, oom_killed: false });
    await publish(start);
    await publish(die);
    // Docker follows a die with a stop; arriving in one batch, the stop must not lose the exit code.
    await publish(event("stop", testTime("10:05:00.200")));
    await publish({ ...start }); // a duplicate: same event_id
    await eventually(
      async () => {
        const result = await client.query("SELECT state, exit_code FROM containers");
        return result.rows[0]?.state === "exited" ? true : undefined;
      },
      { timeoutMs: 10_000, what: "container marked exited" },
    );
    // A late redelivery of an older start must not make the container look running again.
    await publish(event("start", testTime("09:00:00.000")));
    await eventually(
      async () => {
        const result = await client.query("SELECT count(*)::int AS n FROM container_events");
        return result.rows[0].n === 4 ? true : undefined;
      },
      { timeoutMs: 10_000, what: "four distinct events" },
    );
    const container = await client.query("SELECT state, exit_code, finished_at FROM containers");
    expect(container.rows[0]).toMatchObject({ state: "exited", exit_code: 3 });
    expect(container.rows[0].finished_at.toISOString()).toBe(testTime("10:05:00.000"));
    const events = await client.query("SELECT action, exit_code FROM container_events ORDER BY ts");
    expect(events.rows).toEqual([
      { action: "start", exit_code: null },
      { action: "start", exit_code: null },
      { action: "die", exit_code: 3 },
      { action: "stop", exit_code: null },
    ]);
  });

  it("dead-letters messages it cannot use and keeps going", async () => {
    const js = jetstream(nc);
    const deadletters = nc.subscribe(subjects.deadletter("store"));
    const received: string[] = [];
    const collecting = (async () => {
      for await (const msg of deadletters) {
        const decoded = codecs.deadletter.decode(msg.data);
        if (decoded.ok) received.push(`${decoded.value.reason}:${decoded.value.payload}`);
        if (received.length === 2) break;
      }
    })();
    const subject = subjects.stats(HOST, "docker", CONTAINER.name);
    await js.publish(subject, new TextEncoder().encode("{not json"));
    await js.publish(subject, new TextEncoder().encode(JSON.stringify({ v: 1, hello: "world" })));
    await publishStats(js, subjects, sample(testTime("10:00:20.000"), 12));
    await eventually(() => (received.length === 2 ? true : undefined), {
      timeoutMs: 10_000,
      what: "two dead letters",
    });
    await collecting;
    expect(received).toEqual(["invalid_json:{not json", 'invalid_schema:{"v":1,"hello":"world"}']);
    await eventually(
      async () => {
        const result = await client.query("SELECT count(*)::int AS n FROM container_stats");
        return result.rows[0].n === 3 ? true : undefined;
      },
      { timeoutMs: 10_000, what: "the good sample after the bad ones" },
    );
  });

  it("dead-letters raw samples older than the raw retention instead of storing them", async () => {
    const js = jetstream(nc);
    const deadletters = nc.subscribe(subjects.deadletter("store"));
    const refused: { reason: string; subject: string; ts: string }[] = [];
    const collecting = (async () => {
      for await (const msg of deadletters) {
        const decoded = codecs.deadletter.decode(msg.data);
        if (!decoded.ok) continue;
        const { ts } = JSON.parse(decoded.value.payload) as { ts: string };
        refused.push({ reason: decoded.value.reason, subject: decoded.value.subject, ts });
        if (refused.length === 2) break;
      }
    })();
    // The default raw retention is 7 days: the day 8 days before yesterday is gone, yesterday is kept.
    const DAY_MS = 86_400_000;
    const tooOld = new Date(Date.parse(testTime("10:00:00.000")) - 8 * DAY_MS).toISOString();
    const kept = testTime("10:00:30.000");
    const other = { external_id: "d".repeat(64), name: "old.1" };
    await publishStats(js, subjects, statsFixture({ container: other, ts: tooOld }));
    await publishStats(js, subjects, statsFixture({ container: other, ts: kept }));
    const hostSample = codecs.hostStats.encode({
      v: 1,
      host: "node-old",
      ts: tooOld,
      cpu_percent: 1,
      online_cpus: 1,
      mem_total: 1000,
      mem_used: 100,
      mem_available: 900,
      load_1: 0,
      load_5: 0,
      load_15: 0,
      uptime_s: 1,
    });
    if (!hostSample.ok) throw new Error(hostSample.detail);
    await js.publish(subjects.hostStats("node-old"), hostSample.data);
    await eventually(() => (refused.length === 2 ? true : undefined), {
      timeoutMs: 10_000,
      what: "two too_old dead letters",
    });
    await collecting;
    expect(refused.sort((a, b) => a.subject.localeCompare(b.subject))).toEqual([
      { reason: "too_old", subject: subjects.hostStats("node-old"), ts: tooOld },
      { reason: "too_old", subject: subjects.stats(HOST, "docker", other.name), ts: tooOld },
    ]);
    const stored = await eventually(
      async () => {
        const result = await client.query(
          `SELECT s.ts FROM container_stats s JOIN containers c ON c.id = s.container_id WHERE c.external_id = $1`,
          [other.external_id],
        );
        return result.rows.length > 0 ? result.rows : undefined;
      },
      { timeoutMs: 10_000, what: "the kept sample" },
    );
    expect(stored.map((row) => (row.ts as Date).toISOString())).toEqual([kept]);
    // No partition was made for the refused day.
    const partitions = await client.query("SELECT relname FROM pg_class WHERE relname LIKE $1", [
      `%_p${tooOld.slice(0, 10).replaceAll("-", "")}`,
    ]);
    expect(partitions.rows).toEqual([]);
  });

  it("dead-letters messages whose payload names another host, runtime or container than their subject", async () => {
    const js = jetstream(nc);
    const deadletters = nc.subscribe(subjects.deadletter("store"));
    const refused: { reason: string; subject: string }[] = [];
    const collecting = (async () => {
      for await (const msg of deadletters) {
        const decoded = codecs.deadletter.decode(msg.data);
        if (decoded.ok) refused.push({ reason: decoded.value.reason, subject: decoded.value.subject });
        if (refused.length === 4) break;
      }
    })();
    const encode = (encoded: { ok: true; data: Uint8Array } | { ok: false; detail: string }) => {
      if (!encoded.ok) throw new Error(encoded.detail);
      return encoded.data;
    };
    const ts = testTime("10:01:00.000");
    const forged = { external_id: "f".repeat(64), name: "forged.1" };
    // A host speaking for another: its own subject, the victim's name in the payload.
    const ownStatsSubject = subjects.stats(HOST, "docker", forged.name);
    await js.publish(
      ownStatsSubject,
      encode(codecs.stats.encode(statsFixture({ host: "victim", container: forged, ts }))),
    );
    // The right host, another container's subject.
    const otherContainerSubject = subjects.stats(HOST, "docker", "someone-else");
    await js.publish(
      otherContainerSubject,
      encode(codecs.stats.encode(statsFixture({ container: forged, ts }))),
    );
    const eventSubject = subjects.event(HOST, "docker", "container", "start");
    await js.publish(
      eventSubject,
      encode(codecs.event.encode(event("start", ts, { host: "victim", actor: forged }))),
    );
    const hostSubject = subjects.hostStats(HOST);
    await js.publish(
      hostSubject,
      encode(
        codecs.hostStats.encode({
          v: 1,
          host: "victim",
          ts,
          cpu_percent: 1,
          online_cpus: 1,
          mem_total: 1000,
          mem_used: 100,
          mem_available: 900,
          load_1: 0,
          load_5: 0,
          load_15: 0,
          uptime_s: 1,
        }),
      ),
    );
    await eventually(() => (refused.length === 4 ? true : undefined), {
      timeoutMs: 10_000,
      what: "four subject_mismatch dead letters",
    });
    await collecting;
    expect(refused.sort((a, b) => a.subject.localeCompare(b.subject))).toEqual(
      [eventSubject, hostSubject, otherContainerSubject, ownStatsSubject]
        .sort()
        .map((subject) => ({ reason: "subject_mismatch", subject })),
    );
    const stored = await client.query(
      "SELECT host, name FROM containers WHERE host = 'victim' OR external_id = $1",
      [forged.external_id],
    );
    expect(stored.rows).toEqual([]);
    const hosts = await client.query("SELECT name FROM hosts WHERE name = 'victim'");
    expect(hosts.rows).toEqual([]);
  });

  it("stores host samples once each and keeps the host's row current", async () => {
    const js = jetstream(nc);
    const message = {
      v: 1 as const,
      host: "node-h",
      ts: testTime("10:00:00.000"),
      cpu_percent: 12.5,
      online_cpus: 4,
      mem_total: 8000,
      mem_used: 2000,
      mem_available: 6000,
      load_1: 0.5,
      load_5: 0.4,
      load_15: 0.3,
      uptime_s: 100,
    };
    const encoded = codecs.hostStats.encode(message);
    if (!encoded.ok) throw new Error(encoded.detail);
    await js.publish(subjects.hostStats("node-h"), encoded.data, { msgID: "h1" });
    await js.publish(subjects.hostStats("node-h"), encoded.data, { msgID: "h1-again" });
    const later = codecs.hostStats.encode({ ...message, ts: testTime("10:00:10.000"), online_cpus: 8 });
    if (!later.ok) throw new Error(later.detail);
    await js.publish(subjects.hostStats("node-h"), later.data, { msgID: "h2" });
    const rows = await eventually(
      async () => {
        const result = await client.query(
          "SELECT h.name, h.online_cpus, s.ts, s.cpu_percent FROM host_stats s JOIN hosts h ON h.id = s.host_id ORDER BY s.ts",
        );
        return result.rowCount === 2 ? result.rows : undefined;
      },
      { timeoutMs: 10_000, what: "two host samples" },
    );
    expect(rows.map((row) => [row.name, row.online_cpus, row.cpu_percent])).toEqual([
      ["node-h", 8, 12.5],
      ["node-h", 8, 12.5],
    ]);
  });

  it("marks containers a complete inventory no longer lists as gone, and revives those that return", async () => {
    const js = jetstream(nc);
    const host = "host-inv";
    const [p, q, r] = ["p", "q", "r"].map((name) => ({ external_id: name.repeat(64), name }));
    const snapshot = (
      id: string,
      ts: string,
      part: number,
      parts: number,
      listed: (typeof p)[],
    ): InventoryMessage => ({
      v: 1,
      host,
      runtime: "docker",
      ts,
      reason: "periodic",
      snapshot_id: id,
      part,
      parts,
      containers: listed.map((container) =>
        inventoryContainerFixture({ external_id: container?.external_id ?? "", name: container?.name ?? "" }),
      ),
    });
    const goneAt = async () => {
      const result = await client.query(
        "SELECT name, gone_at FROM containers WHERE host = $1 ORDER BY name",
        [host],
      );
      return Object.fromEntries(result.rows.map((row) => [row.name, row.gone_at?.toISOString() ?? null]));
    };
    const settle = (what: string, check: (state: Record<string, string | null>) => boolean) =>
      eventually(
        async () => {
          const state = await goneAt();
          return check(state) ? state : undefined;
        },
        { timeoutMs: 10_000, what },
      );

    await publishInventory(js, subjects, snapshot("s1", testTime("10:00:00.000"), 1, 1, [p, q]));
    await settle("p and q listed", (state) => Object.keys(state).length === 2);
    // Part 1 of 2 of a newer snapshot without q: nothing is concluded from half a list.
    await publishInventory(js, subjects, snapshot("s2", testTime("11:00:00.000"), 1, 2, [p]));
    await settle("p seen in part 1", () => true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await goneAt()).toEqual({ p: null, q: null });
    await publishInventory(js, subjects, snapshot("s2", testTime("11:00:00.000"), 2, 2, [r]));
    expect(await settle("q gone", (state) => state.q !== null)).toEqual({
      p: null,
      q: testTime("11:00:00.000"),
      r: null,
    });
    // An older snapshot completing late changes nothing.
    await publishInventory(js, subjects, snapshot("s0", testTime("09:00:00.000"), 1, 1, [q]));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await goneAt()).q).toBe(testTime("11:00:00.000"));
    // q comes back.
    await publishInventory(js, subjects, snapshot("s3", testTime("12:00:00.000"), 1, 1, [p, q, r]));
    expect(await settle("q revived", (state) => state.q === null)).toEqual({ p: null, q: null, r: null });
  });
});
