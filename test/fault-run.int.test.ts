// The fault run's short form (the "also a short form in CI"): the same run as
// `pnpm bench soak` (test/support/fault-run.ts), small and with its times scaled down, asserting
// what the full run reports: 20 simulated hosts × 10 containers every second into a 3-node
// cluster at R3 and two stores, beside a real watcher on a private dockerd, while the
// telemetry stream's leader node is killed with kill -9 and restarted 25 s later, one store is
// killed with kill -9, the private Postgres is restarted and the watcher's dockerd is restarted.
// Every acknowledged sample is stored once, every event is stored, the restarted node becomes a
// current replica again. Every server it uses is its own; the shared ones are never touched.
import { describe, expect, it } from "vitest";
import { describeFaultRun, runFaultRun } from "./support/fault-run.ts";
import { workloadImage } from "./support/test-env.ts";

const HOSTS = 20;
const CONTAINERS = 10;

describe("the fault run, short form", () => {
  it("loses nothing and stores nothing twice through a node's kill and restart, a store's kill and Postgres' and dockerd's restarts", async () => {
    const figures = await runFaultRun({
      hosts: HOSTS,
      containers: CONTAINERS,
      intervalMs: 1000,
      durationMs: 90_000,
      replicas: 3,
      eventsPerHostPerMin: 6,
      natsRestartAfterMs: 25_000,
      postgresDownMs: 3000,
      watcher: { image: workloadImage(), containers: 3, churnEveryMs: 5000 },
      // Generous: a busy machine catches up slowly, and a wait that holds ends at once.
      finalWaitMs: 180_000,
      log: (line) => console.log(`fault run: ${line}`),
    });
    console.log(describeFaultRun(figures).join("\n"));

    expect(figures.faults.map((fault) => fault.name.replace(/\bn\d\b/, "<node>"))).toEqual([
      "kill -9 NATS node <node> (stream leader)",
      "restart NATS node <node>",
      "kill -9 one store",
      "restart Postgres",
      "restart the watcher's dockerd",
    ]);
    const [kill, restart] = figures.faults;
    // 25 s after the kill (both times are read to the millisecond, one just before the kill).
    expect((restart?.atMs ?? 0) - (kill?.atMs ?? 0)).toBeGreaterThanOrEqual(24_900);
    expect(figures.natsNodeRejoinedAfterMs, "the restarted node rejoined the streams").toBeDefined();

    const { samples, events, watcherEvents } = figures;
    expect(samples.neverAcknowledged).toBe(0);
    // Every sample of every tick acknowledged, stored, and in the stream once. (A tick waits for
    // the last one's acknowledgements: on a busy machine fewer than 90 of them start in 90 s.)
    expect(figures.ticksPublished).toBeGreaterThanOrEqual(45);
    expect(samples.published).toBe(figures.ticksPublished * HOSTS * CONTAINERS);
    expect(samples.lost).toBe(0);
    expect(samples.stored).toBe(samples.published);
    expect(samples.storedTwice).toBe(0);
    expect(samples.inStream).toBe(samples.published);
    expect(figures.ticksNeverComplete).toBe(0);

    expect(events.published).toBeGreaterThan(0);
    expect(events.lost).toBe(0);
    expect(events.stored).toBe(events.published);
    expect(watcherEvents?.reported).toBeGreaterThan(0);
    expect(watcherEvents?.lost).toEqual([]);
  }, 900_000);
});
