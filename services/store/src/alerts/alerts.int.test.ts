// Alerting as it runs: the real store process evaluates samples as it ingests them, with
// configurations written to Postgres the way the api writes them, and publishes transitions on
// <prefix>.v1.alerts.<host>.<container>.
import { type AlertTransitionMessage, codecs, createSubjects, type StatsMessage } from "@crowsnest/shared";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertConfigApplied } from "../../../../test/support/alert-config-applied.ts";
import {
  deleteTestStreams,
  eventFixture,
  FIXTURE_HOST,
  inventoryContainerFixture,
  publishEvent,
  publishInventory,
  publishStats,
  statsFixture,
} from "../../../../test/support/bus-fixtures.ts";
import { type ServiceProcess, startService } from "../../../../test/support/service-process.ts";
import { TEST_DAY, TEST_DAY_MS, testTime } from "../../../../test/support/test-clock.ts";
import {
  connectTestNats,
  createTestDatabase,
  eventually,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../../test/support/test-env.ts";

const prefix = testSubjectPrefix();
const subjects = createSubjects(prefix);
const X = { external_id: "1".repeat(64), name: "x" };
const Y = { external_id: "2".repeat(64), name: "y" };

let second = 0;
const next = () => {
  second += 10;
  return new Date(TEST_DAY_MS + 12 * 3_600_000 + second * 1000).toISOString();
};
const sample = (container: typeof X, cpu: number, mem: number): StatsMessage =>
  statsFixture({ container, ts: next(), cpu_percent: cpu, mem_used: mem, mem_limit: 1000 });
const brief = (m: AlertTransitionMessage) =>
  `${m.container.name} ${m.metric} ${m.change} ${m.value}/${m.threshold} ${m.previous_state}->${m.new_state}`;

describe("alerting", () => {
  let database: TestDatabase;
  let store: ServiceProcess;
  let nc: NatsConnection;
  let client: pg.Client;
  const received: AlertTransitionMessage[] = [];

  const publish = async (...samples: StatsMessage[]) => {
    const js = jetstream(nc);
    for (const message of samples) await publishStats(js, subjects, message);
  };
  const waitForTransitions = (count: number) =>
    eventually(() => (received.length >= count ? received.slice() : undefined), {
      timeoutMs: 15_000,
      what: `${count} alert transitions`,
    });

  beforeAll(async () => {
    database = await createTestDatabase();
    store = startService("store", {
      CROWSNEST_DATABASE_URL: database.url,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_INGEST_BATCH_WAIT_MS: "50",
    });
    await store.waitForLog((record) => record.msg === "store started");
    nc = await connectTestNats();
    const subscription = nc.subscribe(subjects.all("alerts"));
    void (async () => {
      for await (const msg of subscription) {
        const decoded = codecs.alertTransition.decode(msg.data);
        if (decoded.ok) received.push(decoded.value);
      }
    })();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    // The containers with their labels, as the watcher reports them.
    await publishInventory(jetstream(nc), subjects, {
      v: 1,
      host: FIXTURE_HOST,
      runtime: "docker",
      ts: testTime("11:59:00.000"),
      reason: "startup",
      snapshot_id: "s1",
      part: 1,
      parts: 1,
      containers: [
        inventoryContainerFixture({ ...X, labels: { team: "web" } }),
        inventoryContainerFixture({ ...Y, labels: { team: "web" } }),
      ],
    });
    await eventually(
      async () => ((await client.query("SELECT id FROM containers")).rowCount === 2 ? true : undefined),
      { timeoutMs: 10_000, what: "two containers" },
    );
    // A rule for the team, and Y's own configuration, which wins over it.
    await client.query(`INSERT INTO alert_rules (name, selector, cpu_threshold, mem_threshold, consecutive_breaches)
      VALUES ('web', '{"team":"web"}', 50, 80, 2), ('everything', '{}', 1, 1, 1)`);
    await client.query("UPDATE alert_rules SET priority = -1 WHERE name = 'everything'");
    await client.query(`INSERT INTO alert_configs (container_id, cpu_threshold, mem_threshold, consecutive_breaches)
      SELECT id, 90, NULL, 1 FROM containers WHERE name = 'y'`);
    // Samples evaluated before the store puts these settings in use are not alerted on.
    await alertConfigApplied(store, client);
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

  it("goes normal → cpu → both → mem → normal; an interrupted run of breaches does not fire", async () => {
    await publish(
      sample(X, 60, 100),
      sample(X, 10, 100), // interrupts the first breach
      sample(X, 60, 100),
      sample(X, 70, 100), // second in a row: CPU fires
      sample(X, 70, 850),
      sample(X, 70, 900), // memory fires
      sample(X, 20, 900), // CPU resolves
      sample(X, 20, 100), // memory resolves
    );
    const transitions = await waitForTransitions(4);
    expect(transitions.map(brief)).toEqual([
      "x cpu fired 70/50 normal->cpu_alert",
      "x memory fired 90/80 cpu_alert->both_alert",
      "x cpu resolved 20/50 both_alert->mem_alert",
      "x memory resolved 10/80 mem_alert->normal",
    ]);
    expect(transitions[0]).toMatchObject({ host: FIXTURE_HOST, runtime: "docker", container: X });
    const history = await client.query(
      "SELECT metric, change, value, threshold, previous_state, new_state, published_at IS NOT NULL AS published FROM alert_history ORDER BY id",
    );
    expect(history.rows).toHaveLength(4);
    expect(history.rows.every((row) => row.published)).toBe(true);
    const state = await client.query(
      "SELECT s.state, s.cpu_breaches, s.mem_breaches FROM alert_states s JOIN containers c ON c.id = s.container_id WHERE c.name = 'x'",
    );
    expect(state.rows[0]).toEqual({ state: "normal", cpu_breaches: 0, mem_breaches: 0 });
  });

  it("applies a container's own configuration over the label rule", async () => {
    received.length = 0;
    await publish(sample(Y, 60, 1000), sample(Y, 60, 1000), sample(Y, 95, 1000));
    const transitions = await waitForTransitions(1);
    // The rule would have fired CPU at 50 and memory at 80; Y's own config fires at 90, at once, and has no memory alert.
    expect(transitions.map(brief)).toEqual(["y cpu fired 95/90 normal->cpu_alert"]);
  });

  it("keeps the state when the configuration changes, and uses the new one from then on", async () => {
    received.length = 0;
    await publish(sample(X, 60, 100), sample(X, 60, 100));
    await waitForTransitions(1);
    await client.query("UPDATE alert_rules SET mem_threshold = 5, updated_at = now() WHERE name = 'web'");
    await alertConfigApplied(store, client);
    const state = await client.query(
      "SELECT s.state FROM alert_states s JOIN containers c ON c.id = s.container_id WHERE c.name = 'x'",
    );
    expect(state.rows[0].state).toBe("cpu_alert");
    await publish(sample(X, 60, 100), sample(X, 60, 100));
    const transitions = await waitForTransitions(2);
    expect(transitions.map(brief)).toEqual([
      "x cpu fired 60/50 normal->cpu_alert",
      "x memory fired 10/5 cpu_alert->both_alert",
    ]);
  });

  it("fires one OOM alert for an OOM kill reported twice", async () => {
    received.length = 0;
    const js = jetstream(nc);
    await publishEvent(js, subjects, eventFixture({ actor: X, action: "oom", ts: testTime("12:30:00.000") }));
    await publishEvent(
      js,
      subjects,
      eventFixture({
        actor: X,
        action: "die",
        ts: testTime("12:30:00.100"),
        exit_code: 137,
        oom_killed: true,
      }),
    );
    const transitions = await waitForTransitions(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(received.map(brief)).toEqual(["x oom fired null/null both_alert->both_alert"]);
    expect(transitions).toHaveLength(1);
  });

  it("fires a restart loop at three restarts within the window, and the sweep resolves it once the window passed", async () => {
    received.length = 0;
    const js = jetstream(nc);
    for (const [index, minute] of ["12:40:00", "12:40:10", "12:40:20"].entries()) {
      await publishEvent(
        js,
        subjects,
        eventFixture({ actor: X, action: "die", ts: `${TEST_DAY}T${minute}.000Z`, exit_code: 1 }),
      );
      await publishEvent(
        js,
        subjects,
        eventFixture({ actor: X, action: "start", ts: `${TEST_DAY}T${minute}.500Z` }),
      );
      if (index < 2) await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const fired = await waitForTransitions(1);
    expect(fired.map(brief)).toEqual(["x restart_loop fired 3/3 both_alert->both_alert"]);
    // The window (600 s) ended long before now: the next sweep (every 30 s) resolves it.
    const resolved = await eventually(() => (received.length >= 2 ? received.slice() : undefined), {
      timeoutMs: 40_000,
      what: "the restart loop resolved",
    });
    expect(resolved.map(brief)).toEqual([
      "x restart_loop fired 3/3 both_alert->both_alert",
      "x restart_loop resolved 0/3 both_alert->both_alert",
    ]);
  }, 60_000);

  it("counts a Kubernetes restart once: the watcher's start and restart of one new run are one restart", async () => {
    const K = { external_id: "3".repeat(64), name: "k" };
    const kubeEvent = (action: string, time: string) =>
      eventFixture({
        actor: K,
        action,
        runtime: "kubernetes",
        ts: `${TEST_DAY}T${time}.000Z`,
        event_id: `kubernetes/k/${action}/${time}`,
        ...(action === "die" ? { exit_code: 1 } : {}),
      });
    const js = jetstream(nc);
    await publishEvent(js, subjects, kubeEvent("start", "13:00:00"));
    // Three restarts, each a die, then the new run's start and the kubelet's restart.
    for (const [die, start] of [
      ["13:00:10", "13:00:11"],
      ["13:00:20", "13:00:21"],
      ["13:00:30", "13:00:31"],
    ] as const) {
      await publishEvent(js, subjects, kubeEvent("die", die));
      await publishEvent(js, subjects, kubeEvent("start", start));
      await publishEvent(js, subjects, kubeEvent("restart", start));
    }
    // Counting starts and restart events both would fire at the second restart, with 4.
    const fired = await eventually(() => received.find((transition) => transition.container.name === "k"), {
      timeoutMs: 15_000,
      what: "k's restart loop",
    });
    expect(brief(fired)).toMatch(/^k restart_loop fired 3\/3 /);
  }, 60_000);
});
