// Notification delivery as it runs: the real store process consumes alert transitions from the
// bus (published from alert_history, the engine's outbox) and delivers them to real HTTP
// receivers on loopback. Channels and routes are written to Postgres the way the api writes them.
import { createHmac } from "node:crypto";
import { type AlertTransitionMessage, codecs, createSubjects, streamName } from "@crowsnest/shared";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams } from "../../../../test/support/bus-fixtures.ts";
import { type HttpReceiver, startHttpReceiver } from "../../../../test/support/http-receiver.ts";
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
const HMAC_SECRET = "hmac-secret-0123456789-never-logged";
const HEADER_SECRET = "Bearer header-secret-never-logged";

interface Delivery {
  status: string;
  attempts: number;
  events: string[];
}

describe("notification delivery", () => {
  let database: TestDatabase;
  let client: pg.Client;
  let nc: NatsConnection;
  const stores: StoreProcess[] = [];
  /** Every store started, for the log check. */
  const everyStore: StoreProcess[] = [];
  let containerId: number;
  let second = 0;
  const baseMs = Date.now() - 3_600_000;

  const startStore = async () => {
    const store = spawnStore({
      CROWSNEST_DATABASE_URL: database.url,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_PUBLIC_URL: "https://crowsnest.example.test/",
      CROWSNEST_NOTIFY_RETRY_MIN_DELAY_MS: "200",
      CROWSNEST_NOTIFY_RETRY_MAX_DELAY_MS: "1000",
      CROWSNEST_NOTIFY_MAX_ATTEMPTS: "100",
      CROWSNEST_NOTIFY_POLL_MS: "200",
      CROWSNEST_NOTIFY_TIMEOUT_MS: "2000",
    });
    stores.push(store);
    everyStore.push(store);
    await store.waitForLog((record) => record.msg === "store started", 60_000);
    return store;
  };

  const addChannel = async (
    name: string,
    receiver: HttpReceiver,
    secrets: object = {},
    ratePerMinute = 1000,
  ) => {
    const result = await client.query<{ id: string }>(
      `INSERT INTO notification_channels (name, type, settings, secrets, rate_limit_per_minute)
       VALUES ($1, 'webhook', $2, $3, $4) RETURNING id`,
      [name, JSON.stringify({ url: `${receiver.url}/hook/${name}` }), JSON.stringify(secrets), ratePerMinute],
    );
    const id = Number(result.rows[0]?.id);
    await client.query(
      `INSERT INTO notification_routes (name, channel_ids) VALUES ($1, ARRAY[$2]::bigint[])`,
      [`to-${name}`, id],
    );
    return id;
  };

  /** Records a transition the way the alert engine does; the store's publisher puts it on the bus. */
  const transition = async (
    change: "fired" | "resolved",
    value: number,
    container = containerId,
    metric: "cpu" | "oom" = "cpu",
  ) => {
    second += 1;
    const ts = new Date(baseMs + second * 1000);
    const result = await client.query<{ id: string }>(
      `INSERT INTO alert_history (container_id, ts, metric, change, value, threshold, previous_state, new_state)
       VALUES ($1, $2, $7, $3, $4, 80, $5, $6) RETURNING id`,
      [
        container,
        ts,
        change,
        value,
        change === "fired" ? "normal" : "cpu_alert",
        change === "fired" ? "cpu_alert" : "normal",
        metric,
      ],
    );
    return String(result.rows[0]?.id);
  };

  const deliveryOf = async (transitionId: string, channelId: number): Promise<Delivery | undefined> => {
    const result = await client.query<Delivery>(
      `SELECT d.status, d.attempts, array(SELECT l.event FROM notification_delivery_log l
          WHERE l.delivery_id = d.id ORDER BY l.id) AS events
       FROM notification_deliveries d WHERE d.transition_id = $1 AND d.channel_id = $2`,
      [transitionId, channelId],
    );
    return result.rows[0];
  };

  const bodiesFor = (receiver: HttpReceiver, path: string) =>
    receiver.requests.filter((r) => r.path === path && r.method === "POST").map((r) => JSON.parse(r.body));

  beforeAll(async () => {
    database = await createTestDatabase();
    nc = await connectTestNats();
    await startStore();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const container = await client.query<{ id: string }>(
      `INSERT INTO containers (host, runtime, external_id, name, labels, last_seen)
       VALUES ('host-a', 'docker', $1, 'web-1', '{"team": "shop"}', now()) RETURNING id`,
      ["a".repeat(64)],
    );
    containerId = Number(container.rows[0]?.id);
  });

  // Each test's channels stop hearing of the next tests' transitions.
  afterEach(async () => {
    await client.query("UPDATE notification_routes SET enabled = false");
  });

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.stop()));
    await client?.end();
    await deleteTestStreams(nc, prefix);
    await nc?.close();
    await database?.drop();
  });

  it("posts the documented JSON body to a webhook, signed with HMAC-SHA256, with its custom headers", async () => {
    const receiver = await startHttpReceiver();
    const channelId = await addChannel("signed", receiver, {
      hmac_secret: HMAC_SECRET,
      headers: { Authorization: HEADER_SECRET },
    });
    const fired = await transition("fired", 93.5);
    const resolved = await transition("resolved", 12);
    const requests = await eventually(
      () => {
        const got = receiver.requests.filter((r) => r.path === "/hook/signed");
        return got.length >= 2 ? got : undefined;
      },
      { timeoutMs: 20_000, what: "two webhook requests" },
    );
    for (const request of requests) {
      const timestamp = String(request.headers["x-crowsnest-timestamp"]);
      const expected = `sha256=${createHmac("sha256", HMAC_SECRET).update(`${timestamp}.${request.body}`).digest("hex")}`;
      expect(request.headers["x-crowsnest-signature"]).toBe(expected);
      expect(request.headers.authorization).toBe(HEADER_SECRET);
      expect(request.headers["content-type"]).toBe("application/json");
      expect(Math.abs(Number(timestamp) * 1000 - request.receivedAtMs)).toBeLessThan(60_000);
    }
    const [first, second] = requests.map((r) => JSON.parse(r.body));
    expect(first).toMatchObject({
      v: 1,
      type: "alert_transition",
      transition_id: fired,
      host: "host-a",
      runtime: "docker",
      container: { id: containerId, name: "web-1", external_id: "a".repeat(64), labels: { team: "shop" } },
      metric: "cpu",
      change: "fired",
      severity: "warning",
      value: 93.5,
      threshold: 80,
      previous_state: "normal",
      new_state: "cpu_alert",
      fired_at: null,
      duration_s: null,
      url: `https://crowsnest.example.test/containers/${containerId}`,
    });
    expect(second).toMatchObject({
      transition_id: resolved,
      change: "resolved",
      severity: "info",
      fired_at: first.ts,
      duration_s: 1,
    });
    expect(await deliveryOf(fired, channelId)).toEqual({
      status: "sent",
      attempts: 1,
      events: ["queued", "sent"],
    });
    await receiver.stop();
  });

  it("dead-letters an alert message it cannot use (bad JSON, no transition id) and goes on", async () => {
    const receiver = await startHttpReceiver();
    await addChannel("after-bad", receiver);
    const deadletters: { reason: string; detail: string }[] = [];
    const subscription = nc.subscribe(subjects.deadletter("store"));
    void (async () => {
      for await (const msg of subscription) {
        const decoded = codecs.deadletter.decode(msg.data);
        if (decoded.ok) deadletters.push({ reason: decoded.value.reason, detail: decoded.value.detail });
      }
    })();
    const js = jetstream(nc);
    const valid: AlertTransitionMessage = {
      v: 1,
      host: "host-a",
      runtime: "docker",
      container: { external_id: "a".repeat(64), name: "web-1" },
      ts: new Date().toISOString(),
      metric: "cpu",
      change: "fired",
      value: 99,
      threshold: 80,
      previous_state: "normal",
      new_state: "cpu_alert",
    };
    const encoded = codecs.alertTransition.encode(valid);
    if (!encoded.ok) throw new Error(encoded.detail);
    await js.publish(subjects.alert("host-a", "web-1"), new TextEncoder().encode("{not json"));
    await js.publish(subjects.alert("host-a", "web-1"), encoded.data);
    const id = await transition("fired", 88);
    await eventually(
      () => (bodiesFor(receiver, "/hook/after-bad").some((b) => b.transition_id === id) ? true : undefined),
      {
        timeoutMs: 20_000,
        what: "the good transition after the bad messages",
      },
    );
    await eventually(() => (deadletters.length >= 2 ? true : undefined), {
      timeoutMs: 10_000,
      what: "two dead letters",
    });
    subscription.unsubscribe();
    expect(deadletters.map((d) => d.reason)).toEqual(["invalid_json", "unprocessable"]);
    expect(deadletters[1]?.detail).toContain("Nats-Msg-Id");
    expect(bodiesFor(receiver, "/hook/after-bad").map((b) => b.transition_id)).toEqual([id]);
    await receiver.stop();
  });

  it("routes by host, metric, change and severity, and holds a quiet route's messages (only them) until the quiet ends", async () => {
    const receiver = await startHttpReceiver();
    const channel = async (name: string, route: Record<string, unknown>) => {
      const id = await addChannel(name, receiver);
      await client.query("DELETE FROM notification_routes WHERE name = $1", [`to-${name}`]);
      await client.query(
        `INSERT INTO notification_routes (name, channel_ids, hosts, metrics, changes, severities, quiet_hours)
         VALUES ($1, ARRAY[$2]::bigint[], $3, $4, $5, $6, $7)`,
        [
          `only-${name}`,
          id,
          route.hosts ?? [],
          route.metrics ?? [],
          route.changes ?? [],
          route.severities ?? [],
          route.quiet_hours ? JSON.stringify(route.quiet_hours) : null,
        ],
      );
      return id;
    };
    const clock = (offsetMinutes: number) =>
      new Date(Date.now() + offsetMinutes * 60_000).toISOString().slice(11, 16);
    const otherHost = await channel("other-host", { hosts: ["host-b"] });
    const resolves = await channel("resolves", { changes: ["resolved"], severities: ["info"] });
    const memory = await channel("memory", { metrics: ["memory"] });
    const quiet = await channel("quiet", {
      severities: ["warning"],
      quiet_hours: { start: clock(-60), end: clock(60), time_zone: "UTC" },
    });
    // Critical alerts reach the quiet channel at any hour, along a second route.
    await client.query(
      `INSERT INTO notification_routes (name, channel_ids, severities) VALUES ('quiet-critical', ARRAY[$1]::bigint[], '{critical}')`,
      [quiet],
    );
    const fired = await transition("fired", 91);
    const resolved = await transition("resolved", 11);
    const oom = await transition("fired", 1, containerId, "oom");
    // The critical one overtakes the warning held for quiet hours.
    await eventually(() => (bodiesFor(receiver, "/hook/quiet").length > 0 ? true : undefined), {
      timeoutMs: 20_000,
      what: "the critical alert on the quiet channel",
    });
    expect(bodiesFor(receiver, "/hook/quiet").map((b) => [b.transition_id, b.severity])).toEqual([
      [oom, "critical"],
    ]);
    // Fan-out is in transition order: once the resolve is sent, both were routed.
    await eventually(
      async () => ((await deliveryOf(resolved, resolves))?.status === "sent" ? true : undefined),
      {
        timeoutMs: 20_000,
        what: "the resolve routed and sent",
      },
    );
    expect(await deliveryOf(fired, resolves)).toBeUndefined();
    for (const channelId of [otherHost, memory]) {
      expect(await deliveryOf(fired, channelId)).toBeUndefined();
      expect(await deliveryOf(resolved, channelId)).toBeUndefined();
    }
    expect(await deliveryOf(resolved, quiet)).toBeUndefined();
    expect(await deliveryOf(fired, quiet)).toEqual({ status: "queued", attempts: 0, events: ["held"] });
    const held = await client.query<{ minutes: number }>(
      `SELECT (extract(epoch FROM next_attempt_at - now()) / 60)::float8 AS minutes FROM notification_deliveries
       WHERE transition_id = $1 AND channel_id = $2`,
      [fired, quiet],
    );
    expect(held.rows[0]?.minutes).toBeGreaterThan(55);
    expect(held.rows[0]?.minutes).toBeLessThan(61);
    await receiver.stop();
  });

  it("gives up the pending messages of a channel disabled while they wait", async () => {
    const receiver = await startHttpReceiver();
    const channelId = await addChannel("disabled", receiver);
    await receiver.stop();
    const id = await transition("fired", 92);
    await eventually(async () => ((await deliveryOf(id, channelId))?.attempts ?? 0) >= 1 || undefined, {
      timeoutMs: 20_000,
      what: "a failed try to the channel that is down",
    });
    await client.query("UPDATE notification_channels SET enabled = false WHERE id = $1", [channelId]);
    const delivery = await eventually(
      async () => {
        const found = await deliveryOf(id, channelId);
        return found?.status === "gave_up" ? found : undefined;
      },
      { timeoutMs: 20_000, what: "the pending message given up" },
    );
    expect(delivery.events.at(-1)).toBe("gave_up");
    const answer = await client.query<{ last_answer: string }>(
      "SELECT last_answer FROM notification_deliveries WHERE transition_id = $1 AND channel_id = $2",
      [id, channelId],
    );
    expect(answer.rows[0]?.last_answer).toBe("channel disabled");
  });

  it("retries a receiver answering 500, which then gets the message once", async () => {
    const receiver = await startHttpReceiver();
    let failures = 2;
    receiver.respond = () => (failures-- > 0 ? { status: 500, body: "database on fire" } : { status: 204 });
    const channelId = await addChannel("flaky", receiver);
    const id = await transition("fired", 91);
    const delivery = await eventually(
      async () => {
        const found = await deliveryOf(id, channelId);
        return found?.status === "sent" ? found : undefined;
      },
      { timeoutMs: 20_000, what: "the delivery to be sent after retries" },
    );
    expect(delivery).toEqual({ status: "sent", attempts: 3, events: ["queued", "failed", "failed", "sent"] });
    const answers = await client.query<{ answer: string }>(
      `SELECT l.answer FROM notification_delivery_log l JOIN notification_deliveries d ON d.id = l.delivery_id
       WHERE d.transition_id = $1 AND d.channel_id = $2 AND l.event = 'failed'`,
      [id, channelId],
    );
    expect(answers.rows.map((r) => r.answer)).toEqual([
      "HTTP 500: database on fire",
      "HTTP 500: database on fire",
    ]);
    expect(bodiesFor(receiver, "/hook/flaky").map((b) => b.transition_id)).toEqual([id, id, id]);
    await receiver.stop();
  });

  it("delays only the messages of a channel that is down, and sends them all in order once it is back", async () => {
    const down = await startHttpReceiver();
    const up = await startHttpReceiver();
    const downId = await addChannel("down", down);
    await addChannel("up", up);
    await down.stop();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await transition(i % 2 === 0 ? "fired" : "resolved", 90 + i));
    await eventually(() => (bodiesFor(up, "/hook/up").length >= 6 ? true : undefined), {
      timeoutMs: 20_000,
      what: "the healthy channel to get all six messages",
    });
    expect(bodiesFor(up, "/hook/up").map((b) => b.transition_id)).toEqual(ids);
    // The down channel keeps retrying its oldest message (connection refused) meanwhile.
    await eventually(
      async () => ((await deliveryOf(ids[0] ?? "", downId))?.attempts ?? 0) >= 3 || undefined,
      { timeoutMs: 20_000, what: "three failed tries to the channel that is down" },
    );
    expect((await deliveryOf(ids[1] ?? "", downId))?.attempts).toBe(0);
    await down.start();
    await eventually(() => (bodiesFor(down, "/hook/down").length >= 6 ? true : undefined), {
      timeoutMs: 20_000,
      what: "the recovered channel to get all six messages",
    });
    expect(bodiesFor(down, "/hook/down").map((b) => b.transition_id)).toEqual(ids);
    await down.stop();
    await up.stop();
  });

  it("folds a flapping container into one message with a count once the channel's rate limit is reached", async () => {
    const receiver = await startHttpReceiver();
    const channelId = await addChannel("limited", receiver, {}, 2);
    const other = await client.query<{ id: string }>(
      `INSERT INTO containers (host, runtime, external_id, name, labels, last_seen)
       VALUES ('host-a', 'docker', $1, 'db-1', '{}', now()) RETURNING id`,
      ["b".repeat(64)],
    );
    const flapping: string[] = [];
    for (let i = 0; i < 6; i++) flapping.push(await transition(i % 2 === 0 ? "fired" : "resolved", 90 + i));
    const steady = await transition("fired", 97, Number(other.rows[0]?.id));
    const transitionIds = () => bodiesFor(receiver, "/hook/limited").map((b) => b.transition_id);
    await eventually(() => (transitionIds().length >= 2 ? true : undefined), {
      timeoutMs: 20_000,
      what: "the two messages the limit allows",
    });
    // The next slot frees a minute after the first message.
    await eventually(() => (transitionIds().length >= 4 ? true : undefined), {
      timeoutMs: 100_000,
      intervalMs: 1000,
      what: "the folded message and the other container's",
    });
    expect(transitionIds()).toEqual([flapping[0], flapping[1], flapping[5], steady]);
    const bodies = bodiesFor(receiver, "/hook/limited");
    const firstFolded = await client.query<{ ts: Date }>("SELECT ts FROM alert_history WHERE id = $1", [
      flapping[2],
    ]);
    expect(bodies[2].folded).toEqual({ count: 4, since: firstFolded.rows[0]?.ts.toISOString() });
    expect(bodies[0].folded).toBeNull();
    expect(bodies[3].folded).toBeNull();
    for (const id of flapping.slice(2, 5)) {
      expect(await deliveryOf(id, channelId)).toMatchObject({ status: "folded", attempts: 0 });
    }
    await receiver.stop();
  }, 150_000);

  it("loses and duplicates nothing when the store is killed mid-retry and restarted", async () => {
    const receiver = await startHttpReceiver();
    let accepting = false;
    receiver.respond = () => (accepting ? { status: 200 } : { status: 503, body: "maintenance" });
    const channelId = await addChannel("restart", receiver);
    const ids = [await transition("fired", 95), await transition("resolved", 10)];
    await eventually(
      async () => ((await deliveryOf(ids[0] ?? "", channelId))?.attempts ?? 0) >= 2 || undefined,
      { timeoutMs: 20_000, what: "the first message to be retrying" },
    );
    // A crash: no shutdown, the lease is left behind and must lapse before another instance sends.
    const running = stores.splice(0);
    await Promise.all(running.map((store) => store.kill()));
    accepting = true;
    const before = receiver.requests.length;
    await startStore();
    await eventually(
      async () => ((await deliveryOf(ids[1] ?? "", channelId))?.status === "sent" ? true : undefined),
      {
        timeoutMs: 60_000,
        what: "both messages to be sent by the restarted store",
      },
    );
    const accepted = receiver.requests.slice(before).map((r) => JSON.parse(r.body).transition_id);
    expect(accepted).toEqual(ids);
    await receiver.stop();
  });

  it("sends each message once with two store instances, and never again when the bus redelivers everything", async () => {
    const receiver = await startHttpReceiver();
    await addChannel("pair", receiver);
    await startStore();
    expect(stores).toHaveLength(2);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await transition(i % 2 === 0 ? "fired" : "resolved", 90));
    await eventually(() => (bodiesFor(receiver, "/hook/pair").length >= 20 ? true : undefined), {
      timeoutMs: 30_000,
      what: "twenty messages",
    });
    // The durable consumer recreated from scratch hands every transition out again.
    await Promise.all(stores.splice(0).map((store) => store.stop()));
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete(streamName(subjects, "alerts"), "store-notify");
    await startStore();
    const marker = await transition("fired", 99);
    await eventually(
      () => (bodiesFor(receiver, "/hook/pair").some((b) => b.transition_id === marker) ? true : undefined),
      { timeoutMs: 30_000, what: "a new transition after the replay" },
    );
    expect(bodiesFor(receiver, "/hook/pair").map((b) => b.transition_id)).toEqual([...ids, marker]);
    const secrets = [HMAC_SECRET, HEADER_SECRET, "header-secret"];
    for (const record of everyStore.flatMap((each) => each.logs)) {
      const line = JSON.stringify(record);
      for (const secret of secrets) expect(line).not.toContain(secret);
    }
    await receiver.stop();
  });
});
