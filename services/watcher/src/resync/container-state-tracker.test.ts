import { codecs, type EventMessage } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { type ContainerSnapshot, ContainerStateTracker } from "./container-state-tracker.ts";

const HOST = "edge-7";
const T0 = 1_795_294_000_000; // ms
const nanos = (ms: number) => BigInt(ms) * 1_000_000n;

function snapshot(overrides: Partial<ContainerSnapshot> & Pick<ContainerSnapshot, "id">): ContainerSnapshot {
  return {
    name: `name-${overrides.id}`,
    image: "busybox",
    labels: { team: "core" },
    state: "running",
    detailed: true,
    createdNano: nanos(T0 - 60_000),
    startedNano: nanos(T0 - 50_000),
    finishedNano: undefined,
    exitCode: 0,
    oomKilled: false,
    health: null,
    ...overrides,
  };
}

/** A real event as the follower would hand it over. */
function real(action: string, id: string, atMs: number, extra: Partial<EventMessage> = {}): EventMessage {
  return {
    v: 1,
    event_id: `${HOST}/docker/${nanos(atMs)}/${id}/${action}`,
    host: HOST,
    runtime: "docker",
    kind: "container",
    action,
    actor: { external_id: id, name: `name-${id}` },
    ts: new Date(atMs).toISOString(),
    ts_nano: nanos(atMs).toString(),
    image: "busybox",
    exit_code: null,
    oom_killed: null,
    signal: null,
    health_status: null,
    synthesized: false,
    attributes: {},
    ...extra,
  };
}

function valid(events: EventMessage[]): EventMessage[] {
  for (const event of events) {
    const encoded = codecs.event.encode(event);
    if (!encoded.ok) throw new Error(`${event.event_id}: ${encoded.detail}`);
  }
  return events;
}

function seeded(...snapshots: ContainerSnapshot[]): ContainerStateTracker {
  const tracker = new ContainerStateTracker({ runtime: "docker" });
  expect(tracker.reconcile(snapshots, { host: HOST, nowMs: T0 }, { seed: true })).toEqual([]);
  return tracker;
}

const actions = (events: EventMessage[]) =>
  events.map((event) => `${event.actor.external_id}:${event.action}`);

describe("ContainerStateTracker", () => {
  it("only records the first look: there is nothing to compare it with", () => {
    const tracker = new ContainerStateTracker({ runtime: "docker" });
    expect(tracker.seeded).toBe(false);
    // Even a resync, when the startup look failed.
    expect(tracker.reconcile([snapshot({ id: "a" })], { host: HOST, nowMs: T0 })).toEqual([]);
    expect(tracker.seeded).toBe(true);
    expect(tracker.reconcile([snapshot({ id: "a" })], { host: HOST, nowMs: T0 + 1000 })).toEqual([]);
  });

  it("synthesizes the die of a container that exited in the gap, with inspect's time, exit code and OOM kill", () => {
    const tracker = seeded(snapshot({ id: "a" }));
    const finishedNano = nanos(T0 + 5000) + 123_456n;
    const events = valid(
      tracker.reconcile(
        [snapshot({ id: "a", state: "exited", finishedNano, exitCode: 137, oomKilled: true })],
        { host: HOST, nowMs: T0 + 10_000 },
      ),
    );
    expect(events).toEqual([
      {
        v: 1,
        event_id: `${HOST}/docker/synthesized/a/die/${finishedNano}`,
        host: HOST,
        runtime: "docker",
        kind: "container",
        action: "die",
        actor: { external_id: "a", name: "name-a" },
        ts: new Date(T0 + 5000).toISOString(),
        ts_nano: finishedNano.toString(),
        image: "busybox",
        exit_code: 137,
        oom_killed: true,
        signal: null,
        health_status: null,
        synthesized: true,
        attributes: {
          team: "core",
          image: "busybox",
          name: "name-a",
          exitCode: "137",
          ts_source: "finished_at",
        },
      },
    ]);
    // Known now: the next look publishes nothing again.
    expect(
      tracker.reconcile(
        [snapshot({ id: "a", state: "exited", finishedNano, exitCode: 137, oomKilled: true })],
        { host: HOST, nowMs: T0 + 20_000 },
      ),
    ).toEqual([]);
  });

  it("does not synthesize what the replay delivered", () => {
    const tracker = seeded(snapshot({ id: "a" }));
    expect(tracker.observeEvent(real("die", "a", T0 + 5000, { exit_code: 3 }), T0 + 6000)).toBe(true);
    const events = tracker.reconcile(
      [snapshot({ id: "a", state: "exited", finishedNano: nanos(T0 + 5000) - 1000n, exitCode: 3 })],
      { host: HOST, nowMs: T0 + 7000 },
    );
    expect(events).toEqual([]);
  });

  it("sees a restart in the gap from a later StartedAt: the old run's die, then the new start", () => {
    const tracker = seeded(snapshot({ id: "a" }));
    const startedNano = nanos(T0 + 8000);
    const finishedNano = nanos(T0 + 7000);
    const events = valid(
      tracker.reconcile([snapshot({ id: "a", startedNano, finishedNano })], { host: HOST, nowMs: T0 + 9000 }),
    );
    expect(actions(events)).toEqual(["a:die", "a:start"]);
    expect(events[0]).toMatchObject({ ts_nano: `${finishedNano}`, exit_code: null, oom_killed: null });
    expect(events[1]).toMatchObject({
      event_id: `${HOST}/docker/synthesized/a/start/${startedNano}`,
      ts_nano: `${startedNano}`,
    });
  });

  it("keeps a container that was started by a real event in the same run (StartedAt is just before the event)", () => {
    const tracker = seeded();
    tracker.observeEvent(real("create", "a", T0 + 1000), T0 + 1000);
    tracker.observeEvent(real("start", "a", T0 + 2000), T0 + 2000);
    const events = tracker.reconcile(
      [snapshot({ id: "a", createdNano: nanos(T0 + 999), startedNano: nanos(T0 + 2000) - 5000n })],
      { host: HOST, nowMs: T0 + 3000 },
    );
    expect(events).toEqual([]);
  });

  it("reports a container created, run and exited entirely in the gap", () => {
    const tracker = seeded();
    const events = valid(
      tracker.reconcile(
        [
          snapshot({
            id: "b",
            state: "exited",
            createdNano: nanos(T0 + 1000),
            startedNano: nanos(T0 + 2000),
            finishedNano: nanos(T0 + 3000),
            exitCode: 1,
          }),
        ],
        { host: HOST, nowMs: T0 + 5000 },
      ),
    );
    expect(actions(events)).toEqual(["b:create", "b:start", "b:die"]);
    expect(events.map((event) => event.attributes.ts_source)).toEqual([
      "created",
      "started_at",
      "finished_at",
    ]);
    expect(events[2]?.exit_code).toBe(1);
  });

  it("reports a container removed in the gap: a running one dies first; the tombstone goes at the next look", () => {
    const tracker = seeded(
      snapshot({ id: "a" }),
      snapshot({ id: "b", state: "exited", finishedNano: nanos(T0) }),
    );
    const events = valid(tracker.reconcile([], { host: HOST, nowMs: T0 + 5000 }));
    expect(actions(events)).toEqual(["a:die", "a:destroy", "b:destroy"]);
    expect(events[1]).toMatchObject({
      event_id: `${HOST}/docker/synthesized/a/destroy/gone`,
      ts: new Date(T0 + 5000).toISOString(),
      ts_nano: null,
      attributes: { ts_source: "resync" },
    });
    expect(events[0]).toMatchObject({ exit_code: null, oom_killed: null });
    expect(tracker.reconcile([], { host: HOST, nowMs: T0 + 10_000 })).toEqual([]);
    expect(tracker.size).toBe(0);
  });

  it("reports pause, unpause, rename and a health change", () => {
    const tracker = seeded(snapshot({ id: "a", health: "healthy" }), snapshot({ id: "b", state: "paused" }));
    const events = valid(
      tracker.reconcile(
        [
          snapshot({ id: "a", state: "paused", name: "renamed", health: "unhealthy" }),
          snapshot({ id: "b", state: "running" }),
        ],
        { host: HOST, nowMs: T0 + 5000 },
      ),
    );
    expect(actions(events)).toEqual(["a:rename", "a:pause", "a:health_status", "b:unpause"]);
    expect(events[0]).toMatchObject({ actor: { name: "renamed" }, attributes: { oldName: "/name-a" } });
    expect(events[2]).toMatchObject({ health_status: "unhealthy" });
  });

  it("recognizes a real event arriving late for a transition it synthesized, once, and only for a while", () => {
    const tracker = seeded(snapshot({ id: "a" }), snapshot({ id: "c" }));
    const now = T0 + 5000;
    tracker.reconcile(
      [
        snapshot({ id: "a", state: "exited", finishedNano: nanos(T0 + 4000), exitCode: 2 }),
        snapshot({ id: "c", state: "exited", finishedNano: nanos(T0 + 4000) }),
      ],
      { host: HOST, nowMs: now },
    );
    // kill and stop were not synthesized: they go out, and do not end the window.
    expect(tracker.observeEvent(real("kill", "a", T0 + 3999), now + 100)).toBe(true);
    expect(tracker.observeEvent(real("die", "a", T0 + 4000, { exit_code: 2 }), now + 200)).toBe(false);
    expect(tracker.observeEvent(real("stop", "a", T0 + 4001), now + 300)).toBe(true);
    // A new run after the look is new.
    expect(tracker.observeEvent(real("start", "a", T0 + 6000), now + 1000)).toBe(true);
    expect(tracker.observeEvent(real("die", "a", T0 + 7000), now + 2000)).toBe(true);
    // Long after, the window is over: the real event is published.
    expect(tracker.observeEvent(real("die", "c", T0 + 4000), now + 60_000)).toBe(true);
  });

  it("gives a synthesized event the same id however often it is inferred", () => {
    const look = [snapshot({ id: "a", state: "exited", finishedNano: nanos(T0 + 4000) })];
    const first = seeded(snapshot({ id: "a" })).reconcile(look, { host: HOST, nowMs: T0 + 5000 });
    const second = seeded(snapshot({ id: "a" })).reconcile(look, { host: HOST, nowMs: T0 + 9000 });
    expect(first.map((event) => event.event_id)).toEqual(second.map((event) => event.event_id));
    // Real ids have nanoseconds where synthesized ones say so: the two never collide.
    expect(first[0]?.event_id).toMatch(new RegExp(`^${HOST}/docker/synthesized/`));
  });

  it("works from list entries alone when inspect failed, without inventing times", () => {
    const tracker = seeded(snapshot({ id: "a" }));
    const events = valid(
      tracker.reconcile(
        [
          snapshot({
            id: "a",
            state: "exited",
            detailed: false,
            startedNano: undefined,
            finishedNano: undefined,
            exitCode: null,
            oomKilled: null,
          }),
        ],
        { host: HOST, nowMs: T0 + 5000 },
      ),
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "die", exit_code: null, oom_killed: null, ts_nano: null });
    expect(events[0]?.event_id).toBe(`${HOST}/docker/synthesized/a/die/unknown-finish@${T0 + 5000}`);
  });

  it("leaves a container in a state Docker has no word for alone", () => {
    const tracker = seeded(snapshot({ id: "a" }));
    expect(
      tracker.reconcile([snapshot({ id: "a", state: "unknown" })], { host: HOST, nowMs: T0 + 1 }),
    ).toEqual([]);
  });
});

describe("ContainerStateTracker after a restart", () => {
  const recorded = (tracker: ContainerStateTracker) =>
    new Map([...tracker.rememberedAll()].map(([id, container]) => [id, { container, recordedAtMs: T0 }]));

  it("compares the host with what it recorded before it stopped, as after a reconnect", () => {
    const before = seeded(
      snapshot({ id: "up" }),
      snapshot({ id: "gone" }),
      snapshot({ id: "paused", state: "paused" }),
    );
    const restarted = new ContainerStateTracker({ runtime: "docker" });
    restarted.restore(recorded(before), T0 + 500);
    expect(restarted.restored).toBe(true);
    const finished = T0 + 5000;
    const events = valid(
      restarted.reconcile(
        [
          snapshot({
            id: "up",
            state: "exited",
            finishedNano: nanos(finished),
            exitCode: 137,
            oomKilled: true,
          }),
          snapshot({ id: "paused", state: "running" }),
          snapshot({ id: "new", createdNano: nanos(T0 + 1000), startedNano: nanos(T0 + 2000) }),
        ],
        { host: HOST, nowMs: T0 + 60_000 },
        { seed: false },
      ),
    );
    expect(restarted.restored).toBe(false);
    expect(events.map((e) => `${e.actor.external_id} ${e.action}`)).toEqual([
      "up die",
      "paused unpause",
      "new create",
      "new start",
      "gone die",
      "gone destroy",
    ]);
    expect(events.find((e) => e.actor.external_id === "up")).toMatchObject({
      event_id: `${HOST}/docker/synthesized/up/die/${nanos(finished)}`,
      exit_code: 137,
      oom_killed: true,
      synthesized: true,
    });
    // Without a runtime time, keyed by when the state was recorded, not by the clock.
    expect(events.find((e) => e.action === "unpause")?.event_id).toBe(
      `${HOST}/docker/synthesized/paused/unpause/running@${T0}`,
    );
    expect(events.find((e) => e.actor.external_id === "gone" && e.action === "destroy")?.event_id).toBe(
      `${HOST}/docker/synthesized/gone/destroy/gone`,
    );
  });

  it("yields the same ids when the same record is recovered twice (a crash before it recorded more)", () => {
    const before = seeded(
      snapshot({ id: "a" }),
      snapshot({ id: "b", state: "paused" }),
      snapshot({ id: "c" }),
    );
    const now = [
      snapshot({ id: "a", state: "exited", finishedNano: nanos(T0 + 5000) }),
      snapshot({ id: "b", state: "running", name: "renamed" }),
      // New meanwhile, and its health check passed: keyed by when the whole record was made.
      snapshot({ id: "d", health: "healthy" }),
    ];
    const ids = (nowMs: number) => {
      const tracker = new ContainerStateTracker({ runtime: "docker" });
      tracker.restore(recorded(before), T0 + 500);
      return tracker.reconcile(now, { host: HOST, nowMs }).map((e) => e.event_id);
    };
    expect(ids(T0 + 60_000)).toEqual(ids(T0 + 90_000));
    expect(ids(T0 + 60_000)).toHaveLength(8);
    expect(ids(T0 + 60_000)).toContain(`${HOST}/docker/synthesized/d/health_status/healthy@${T0 + 500}`);
  });

  it("yields nothing when nothing changed, and remembers what real events did", () => {
    const before = seeded(snapshot({ id: "a" }));
    const restarted = new ContainerStateTracker({ runtime: "docker" });
    restarted.restore(recorded(before), T0 + 500);
    expect(restarted.reconcile([snapshot({ id: "a" })], { host: HOST, nowMs: T0 + 1000 })).toEqual([]);
    restarted.observeEvent(real("die", "a", T0 + 2000), T0 + 2000);
    expect(restarted.remembered("a")).toMatchObject({ phase: "down", name: "name-a" });
    restarted.observeEvent(real("destroy", "a", T0 + 3000), T0 + 3000);
    expect(restarted.remembered("a")).toBeUndefined();
    expect(restarted.rememberedAll().size).toBe(0);
  });
});
