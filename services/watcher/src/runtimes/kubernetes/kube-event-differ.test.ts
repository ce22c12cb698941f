import { describe, expect, it } from "vitest";
import { type DiffContext, diffNode, diffPod, diffService } from "./kube-event-differ.ts";
import { type PodState, pruneNode, prunePod, pruneService } from "./kube-objects.ts";

const NOW = "2026-11-21T12:00:00.000Z";
const live: DiffContext = { host: "node-1", synthesized: false, now: () => NOW };

interface ContainerStatusInput {
  ready?: boolean;
  restartCount?: number;
  state?: Record<string, unknown>;
  lastState?: Record<string, unknown>;
}

function pod(
  resourceVersion: string,
  status: ContainerStatusInput | undefined,
  nodeName: string | null = "node-1",
): PodState {
  const pruned = prunePod({
    metadata: {
      uid: "uid-1",
      name: "web-7d9f",
      namespace: "shop",
      resourceVersion,
      labels: { app: "web" },
      ownerReferences: [{ kind: "ReplicaSet", name: "web-rs", controller: true }],
      creationTimestamp: "2026-11-21T11:00:00Z",
    },
    spec: {
      ...(nodeName === null ? {} : { nodeName }),
      containers: [{ name: "app", image: "nginx:1", resources: { limits: { memory: "64Mi", cpu: "500m" } } }],
    },
    status: {
      conditions: [
        { type: "PodScheduled", status: "True", lastTransitionTime: "2026-11-21T11:00:01Z" },
        {
          type: "Ready",
          status: status?.ready ? "True" : "False",
          lastTransitionTime: "2026-11-21T11:00:05Z",
        },
      ],
      ...(status === undefined
        ? {}
        : {
            containerStatuses: [
              {
                name: "app",
                image: "nginx:1",
                imageID: "sha256:abc",
                ready: false,
                restartCount: 0,
                ...status,
              },
            ],
          }),
    },
  });
  if (pruned === undefined) throw new Error("fixture does not prune");
  return pruned;
}

const running = (startedAt: string) => ({ running: { startedAt } });
const terminated = (reason: string, exitCode: number, startedAt: string, finishedAt: string) => ({
  terminated: { reason, exitCode, startedAt, finishedAt, message: `${reason} message` },
});

const actions = (events: ReturnType<typeof diffPod>) =>
  events.map((event) => `${event.kind}.${event.action}`);

describe("diffPod", () => {
  it("reports scheduling, start and readiness of a new pod in the order they happened", () => {
    const created = pod("1", undefined, null);
    expect(diffPod(undefined, created, live)).toEqual([]);
    const scheduled = pod("2", undefined);
    const [event] = diffPod(created, scheduled, live);
    expect(event).toMatchObject({
      kind: "pod",
      action: "scheduled",
      event_id: "kubernetes/uid-1/scheduled",
      host: "node-1",
      runtime: "kubernetes",
      actor: { external_id: "shop/web-7d9f", name: "shop/web-7d9f" },
      ts: "2026-11-21T11:00:01.000Z",
      synthesized: false,
    });
    expect(event?.attributes).toMatchObject({
      app: "web",
      "io.kubernetes.pod.namespace": "shop",
      "io.kubernetes.pod.node": "node-1",
    });
    const started = pod("3", { state: running("2026-11-21T11:00:03Z") });
    const startEvents = diffPod(scheduled, started, live);
    expect(actions(startEvents)).toEqual(["container.start"]);
    expect(startEvents[0]).toMatchObject({
      actor: { external_id: "shop/web-7d9f/app", name: "shop/web-7d9f/app" },
      ts: "2026-11-21T11:00:03.000Z",
      image: "nginx:1",
    });
    expect(startEvents[0]?.attributes["io.kubernetes.container.name"]).toBe("app");
    const ready = pod("4", { ready: true, state: running("2026-11-21T11:00:03Z") });
    expect(diffPod(started, ready, live)).toMatchObject([
      { action: "ready", event_id: "kubernetes/uid-1/app/ready/4", ts: "2026-11-21T11:00:05.000Z" },
    ]);
    expect(diffPod(ready, ready, live)).toEqual([]);
  });

  it("reports an OOM kill with a restart as die (oom_killed), oom, restart and the new start, once", () => {
    const before = pod("5", { ready: true, state: running("2026-11-21T11:00:03Z") });
    const after = pod("6", {
      ready: true,
      restartCount: 1,
      state: running("2026-11-21T11:10:01Z"),
      lastState: terminated("OOMKilled", 137, "2026-11-21T11:00:03Z", "2026-11-21T11:10:00Z"),
    });
    const events = diffPod(before, after, live);
    expect(actions(events).sort()).toEqual([
      "container.die",
      "container.oom",
      "container.restart",
      "container.start",
    ]);
    expect(events.find((event) => event.action === "die")).toMatchObject({
      exit_code: 137,
      oom_killed: true,
      ts: "2026-11-21T11:10:00.000Z",
      attributes: { reason: "OOMKilled", message: "OOMKilled message", restart_count: "1" },
    });
    expect(events.find((event) => event.action === "restart")?.event_id).toBe(
      "kubernetes/uid-1/app/restart/1",
    );
    // The same status seen again (a re-list, another MODIFIED) adds nothing.
    expect(
      diffPod(
        after,
        pod("7", {
          ready: true,
          restartCount: 1,
          state: running("2026-11-21T11:10:01Z"),
          lastState: terminated("OOMKilled", 137, "2026-11-21T11:00:03Z", "2026-11-21T11:10:00Z"),
        }),
        live,
      ),
    ).toEqual([]);
  });

  it("reports the start of a run restarted within the second its predecessor started, once", () => {
    // Seen on a real kubelet: a container OOM-killed at once and restarted without back-off.
    const first = pod("5", { state: running("2026-11-21T11:00:03Z") });
    const restartedStatus = {
      restartCount: 1,
      state: running("2026-11-21T11:00:03Z"),
      lastState: terminated("OOMKilled", 137, "2026-11-21T11:00:03Z", "2026-11-21T11:00:03Z"),
    };
    const restarted = pod("6", restartedStatus);
    expect(actions(diffPod(first, restarted, live)).sort()).toEqual([
      "container.die",
      "container.oom",
      "container.restart",
      "container.start",
    ]);
    // Never seen running, the first run's start comes from its lastState: two starts in all.
    const starts = diffPod(undefined, restarted, live).filter((event) => event.action === "start");
    expect(starts).toHaveLength(2);
    expect(new Set(starts.map((event) => event.event_id)).size).toBe(2);
    // The same status again adds nothing.
    expect(diffPod(restarted, pod("7", restartedStatus), live)).toEqual([]);
  });

  it("names a run by its times, so a crash seen as state and then as lastState is one die", () => {
    const runningPod = pod("5", { state: running("2026-11-21T11:00:03Z") });
    const crashed = pod("6", {
      state: terminated("Error", 1, "2026-11-21T11:00:03Z", "2026-11-21T11:01:00Z"),
    });
    const dies = diffPod(runningPod, crashed, live);
    expect(dies).toMatchObject([{ action: "die", exit_code: 1, oom_killed: false }]);
    const restarted = pod("7", {
      restartCount: 1,
      state: { waiting: { reason: "CrashLoopBackOff" } },
      lastState: terminated("Error", 1, "2026-11-21T11:00:03Z", "2026-11-21T11:01:00Z"),
    });
    expect(actions(diffPod(crashed, restarted, live))).toEqual(["container.restart"]);
  });

  it("emits, after a re-list, exactly the transitions missed, marked synthesized", () => {
    const known = pod("5", { ready: true, state: running("2026-11-21T11:00:03Z") });
    const listed = pod("9", {
      ready: false,
      restartCount: 2,
      state: { waiting: { reason: "CrashLoopBackOff" } },
      lastState: terminated("Error", 2, "2026-11-21T11:20:00Z", "2026-11-21T11:20:30Z"),
    });
    const events = diffPod(known, listed, { ...live, synthesized: true });
    expect(events.every((event) => event.synthesized)).toBe(true);
    expect(actions(events).sort()).toEqual([
      "container.die",
      "container.restart",
      "container.restart",
      "container.start",
      "container.unready",
    ]);
    // The restart neither state shows: known only by its number, which is its id live too.
    expect(events.filter((event) => event.action === "restart")).toMatchObject([
      { event_id: "kubernetes/uid-1/app/restart/1", ts: NOW, attributes: { restart_count: "1" } },
      { event_id: "kubernetes/uid-1/app/restart/2", attributes: { restart_count: "2" } },
    ]);
    const seenLive = diffPod(
      pod("8", {
        restartCount: 1,
        state: running("2026-11-21T11:20:00Z"),
        lastState: terminated("Error", 1, "2026-11-21T11:00:03Z", "2026-11-21T11:19:59Z"),
      }),
      listed,
      live,
    );
    expect(seenLive.filter((event) => event.action === "restart").map((event) => event.event_id)).toEqual([
      "kubernetes/uid-1/app/restart/2",
    ]);
  });

  it("publishes at most the newest hundred restarts no state showed", () => {
    const known = pod("5", { state: running("2026-11-21T11:00:03Z") });
    const listed = pod("9", {
      restartCount: 1000,
      state: running("2026-11-22T11:00:00Z"),
      lastState: terminated("Error", 1, "2026-11-22T10:59:00Z", "2026-11-22T10:59:59Z"),
    });
    const restarts = diffPod(known, listed, live).filter((event) => event.action === "restart");
    expect(restarts).toHaveLength(101);
    expect(restarts[0]?.event_id).toBe("kubernetes/uid-1/app/restart/900");
    expect(restarts.at(-1)?.event_id).toBe("kubernetes/uid-1/app/restart/1000");
    // A container the watcher never saw has only the restart its state shows.
    expect(diffPod(undefined, listed, live).filter((event) => event.action === "restart")).toHaveLength(1);
  });

  it("reports a deleted pod with a delete event", () => {
    const last = pod("5", { state: running("2026-11-21T11:00:03Z") });
    expect(diffPod(last, undefined, live)).toMatchObject([
      {
        kind: "pod",
        action: "delete",
        event_id: "kubernetes/uid-1/delete",
        ts: NOW,
        actor: { external_id: "shop/web-7d9f" },
      },
    ]);
  });
});

describe("diffNode and diffService", () => {
  const node = (resourceVersion: string, ready: string, since: string) =>
    pruneNode({
      metadata: { uid: "n-1", name: "node-1", resourceVersion },
      status: { conditions: [{ type: "Ready", status: ready, lastTransitionTime: since }] },
    });

  it("reports node add, not_ready, ready and remove", () => {
    const added = node("1", "True", "2026-11-21T10:00:00Z");
    expect(diffNode(undefined, added, live).map((event) => event.action)).toEqual(["add", "ready"]);
    const down = node("2", "False", "2026-11-21T10:05:00Z");
    expect(diffNode(added, down, live)).toMatchObject([
      { kind: "node", action: "not_ready", ts: "2026-11-21T10:05:00.000Z", actor: { external_id: "node-1" } },
    ]);
    expect(diffNode(down, node("3", "False", "2026-11-21T10:05:00Z"), live)).toEqual([]);
    expect(diffNode(down, undefined, live)).toMatchObject([{ action: "remove" }]);
  });

  it("reports service add and remove, not updates, with ids free of the host (replicas share them)", () => {
    const service = pruneService({
      metadata: { uid: "s-1", name: "web", namespace: "shop", resourceVersion: "1" },
      spec: { type: "ClusterIP" },
    });
    const updated = pruneService({
      metadata: { uid: "s-1", name: "web", namespace: "shop", resourceVersion: "2" },
    });
    expect(diffService(undefined, service, live)).toMatchObject([
      { kind: "service", action: "add", event_id: "kubernetes/s-1/add", actor: { external_id: "shop/web" } },
    ]);
    expect(diffService(service, updated, live)).toEqual([]);
    expect(diffService(updated, undefined, live)).toMatchObject([{ action: "remove" }]);
  });
});

describe("pruning", () => {
  it("refuses objects without identity and survives malformed fields", () => {
    expect(prunePod({})).toBeUndefined();
    expect(prunePod({ metadata: { uid: "u", name: "p", resourceVersion: "1" } })).toBeUndefined();
    const odd = prunePod({
      metadata: { uid: "u", name: "p", namespace: "n", resourceVersion: "1", labels: { a: 1, b: "x" } },
      spec: { containers: [{ name: "c", resources: { limits: { memory: "lots" } } }, { image: "no-name" }] },
      status: { containerStatuses: "nope", conditions: [{ type: "Ready", lastTransitionTime: "garbage" }] },
    });
    expect(odd).toMatchObject({
      labels: { b: "x" },
      containers: [{ name: "c", memLimitBytes: null }],
      statuses: [],
      readyChangedAt: null,
    });
  });
});
