// Notification delivery end to end: alert transitions published on the bus (as the store's alert
// publisher does: history row, then the message with `Nats-Msg-Id: alert/<id>`) until a real
// HTTP receiver on loopback has them, through the real store process. Two phases:
//   quiet:      one transition every 200 ms to one channel: latency bus → webhook, p50/p99;
//   throughput: 1 000 transitions a minute to 10 channels (10 000 messages a minute):
//               latency, and whether delivery keeps up (backlog at the end).
// Figures only; nothing is asserted. Needs CROWSNEST_TEST_DATABASE_URL / CROWSNEST_TEST_NATS_URL
// (or Postgres and NATS on localhost). BENCH_NOTIFY_SECONDS shortens the throughput phase.
import { type AlertTransitionMessage, codecs, createSubjects } from "@crowsnest/shared";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { benchDatabase } from "../../services/store/src/fixtures/bench-database.ts";
import { spawnStore } from "../../services/store/src/fixtures/store-process.ts";
import { deleteTestStreams } from "../support/bus-fixtures.ts";
import { startHttpReceiver } from "../support/http-receiver.ts";

const natsUrl = process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
const THROUGHPUT_SECONDS = Number(process.env.BENCH_NOTIFY_SECONDS ?? 60);
const CONTAINERS = 50;
const CHANNELS = 10;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function run(): Promise<void> {
  const database = await benchDatabase("notify");
  const prefix = `bench-notify-${Date.now().toString(36)}`;
  const subjects = createSubjects(prefix);
  const nc = await connect({ servers: natsUrl, name: "crowsnest-bench" });
  const js = jetstream(nc);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const receiver = await startHttpReceiver();
  const store = spawnStore({
    CROWSNEST_DATABASE_URL: database.url,
    CROWSNEST_NATS_URL: natsUrl,
    CROWSNEST_SUBJECT_PREFIX: prefix,
  });
  try {
    await store.waitForLog((record) => record.msg === "store started", 60_000);
    const containers = await client.query<{ id: string; name: string }>(
      `INSERT INTO containers (host, runtime, external_id, name, last_seen)
       SELECT 'bench-host', 'docker', lpad(n::text, 64, '0'), 'app-' || n, now() FROM generate_series(1, $1) n
       RETURNING id::text, name`,
      [CONTAINERS],
    );
    const channelIds: string[] = [];
    for (let i = 0; i < CHANNELS; i++) {
      const channel = await client.query<{ id: string }>(
        `INSERT INTO notification_channels (name, type, settings, rate_limit_per_minute)
         VALUES ($1, 'webhook', $2, 10000) RETURNING id::text`,
        [`bench-${i}`, JSON.stringify({ url: `${receiver.url}/c${i}` })],
      );
      channelIds.push(String(channel.rows[0]?.id));
    }
    const published = new Map<string, number>();
    const firing = new Set<string>();
    let sequence = 0;
    /** Records a transition as the engine would and publishes it as the alert publisher would. */
    const publishTransition = async () => {
      const container = containers.rows[sequence % CONTAINERS];
      sequence += 1;
      if (!container) return;
      const change = firing.has(container.id) ? "resolved" : "fired";
      if (change === "fired") firing.add(container.id);
      else firing.delete(container.id);
      const ts = new Date();
      const row = await client.query<{ id: string }>(
        `INSERT INTO alert_history (container_id, ts, metric, change, value, threshold, previous_state, new_state, published_at)
         VALUES ($1, $2, 'cpu', $3, 95, 90, $4, $5, now()) RETURNING id::text`,
        [
          container.id,
          ts,
          change,
          change === "fired" ? "normal" : "cpu_alert",
          change === "fired" ? "cpu_alert" : "normal",
        ],
      );
      const id = String(row.rows[0]?.id);
      const message: AlertTransitionMessage = {
        v: 1,
        host: "bench-host",
        runtime: "docker",
        container: { external_id: "x", name: container.name },
        ts: ts.toISOString(),
        metric: "cpu",
        change,
        value: 95,
        threshold: 90,
        previous_state: change === "fired" ? "normal" : "cpu_alert",
        new_state: change === "fired" ? "cpu_alert" : "normal",
      };
      const encoded = codecs.alertTransition.encode(message);
      if (!encoded.ok) throw new Error(encoded.detail);
      published.set(id, Date.now());
      await js.publish(subjects.alert("bench-host", container.name), encoded.data, { msgID: `alert/${id}` });
    };
    const latencies = (from: number) =>
      receiver.requests.slice(from).map((request) => {
        const id = (JSON.parse(request.body) as { transition_id: string }).transition_id;
        return request.receivedAtMs - (published.get(id) ?? Number.NaN);
      });
    const report = (label: string, values: number[], expected: number, elapsedMs: number) => {
      console.log(
        `${label}: ${values.length}/${expected} received in ${(elapsedMs / 1000).toFixed(1)} s; ` +
          `latency bus → webhook p50 ${percentile(values, 50)} ms, p99 ${percentile(values, 99)} ms, max ${Math.max(...values)} ms`,
      );
    };
    const waitFor = async (count: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (receiver.requests.length < count && Date.now() < deadline) await sleep(100);
    };

    // Quiet: one channel.
    await client.query(
      `INSERT INTO notification_routes (name, channel_ids) VALUES ('quiet', ARRAY[$1]::bigint[])`,
      [channelIds[0]],
    );
    let started = Date.now();
    for (let i = 0; i < 100; i++) {
      await publishTransition();
      await sleep(200);
    }
    await waitFor(100, 30_000);
    report("quiet, 1 channel, 5 transitions/s", latencies(0), 100, Date.now() - started);

    // Throughput: every channel, 1 000 transitions a minute.
    await client.query(`UPDATE notification_routes SET channel_ids = $1::bigint[]`, [channelIds]);
    const before = receiver.requests.length;
    const transitions = Math.round((1000 * THROUGHPUT_SECONDS) / 60);
    started = Date.now();
    for (let i = 0; i < transitions; i++) {
      await publishTransition();
      const due = started + ((i + 1) * 60_000) / 1000;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    const publishedMs = Date.now() - started;
    const atEnd = receiver.requests.length - before;
    await waitFor(before + transitions * CHANNELS, 120_000);
    console.log(
      `throughput: published ${transitions} transitions in ${(publishedMs / 1000).toFixed(1)} s; ` +
        `${atEnd}/${transitions * CHANNELS} messages received by then (backlog ${transitions * CHANNELS - atEnd})`,
    );
    report(
      `throughput, ${CHANNELS} channels, 1 000 transitions/min`,
      latencies(before),
      transitions * CHANNELS,
      Date.now() - started,
    );
    const duplicates =
      receiver.requests.length - new Set(receiver.requests.map((r) => `${r.path} ${r.body}`)).size;
    console.log(`duplicates received: ${duplicates}`);
  } finally {
    await store.stop();
    await receiver.stop();
    await client.end();
    await deleteTestStreams(nc, prefix);
    await nc.close();
    await database.drop();
  }
}
