import type { EventMessage } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { missedTransitions } from "../../recovery/missed-transitions.ts";
import { type DiffContext, diffPod } from "./kube-event-differ.ts";
import { type PodState, prunePod } from "./kube-objects.ts";
import { podRecordCodec, podRecordKey } from "./kube-pod-record.ts";

const base = Date.now() - 3_600_000;
const at = (seconds: number) => new Date(base + seconds * 1000).toISOString();

function pod(uid: string, resourceVersion: string, statuses: Record<string, unknown>[]): PodState {
  const pruned = prunePod({
    metadata: {
      uid,
      name: `web-${uid}`,
      namespace: "shop",
      resourceVersion,
      labels: { app: "web", tier: "front" },
      ownerReferences: [{ kind: "ReplicaSet", name: "web-rs", controller: true }],
      creationTimestamp: at(0),
    },
    spec: {
      nodeName: "node-1",
      containers: [
        {
          name: "app",
          image: "nginx:1",
          resources: { limits: { memory: "64Mi", cpu: "500m" } },
          livenessProbe: { httpGet: { path: "/" } },
        },
        { name: "sidecar", image: "" },
      ],
    },
    status: {
      conditions: [
        { type: "PodScheduled", status: "True", lastTransitionTime: at(1) },
        { type: "Ready", status: "False", lastTransitionTime: at(5) },
      ],
      containerStatuses: statuses,
    },
  });
  if (pruned === undefined) throw new Error("fixture does not prune");
  return pruned;
}

const running = (name: string, startedAt: string, extra: Record<string, unknown> = {}) => ({
  name,
  image: "nginx:1",
  imageID: "sha256:abc",
  ready: true,
  restartCount: 0,
  state: { running: { startedAt } },
  ...extra,
});

/** Through the bucket: to JSON text and back, as a restarted watcher reads it. */
const throughBucket = (state: PodState): PodState | undefined =>
  podRecordCodec.fromJson(JSON.parse(JSON.stringify(podRecordCodec.toJson(state))));

describe("the recorded pod", () => {
  it("reads back as the pod it was, in every state a container can be in", () => {
    const recorded = pod("u1", "42", [
      running("app", at(10), {
        restartCount: 2,
        lastState: {
          terminated: {
            exitCode: 137,
            reason: "OOMKilled",
            message: "killed",
            startedAt: at(3),
            finishedAt: at(9),
          },
        },
      }),
      { name: "sidecar", ready: false, restartCount: 0, state: { waiting: { reason: "CrashLoopBackOff" } } },
    ]);
    expect(throughBucket(recorded)).toEqual(recorded);
    const ended = pod("u2", "43", [
      { name: "app", restartCount: 0, state: { terminated: { exitCode: 0, finishedAt: at(20) } } },
      { name: "sidecar", state: {} },
    ]);
    expect(throughBucket(ended)).toEqual(ended);
    expect(podRecordKey("u1")).toBe("pod_u1");
  });

  it("refuses what is not a recorded pod", () => {
    expect(podRecordCodec.fromJson(null)).toBeUndefined();
    expect(podRecordCodec.fromJson({ metadata: { uid: "u1", name: "web" } })).toBeUndefined();
    expect(podRecordCodec.fromJson("pod")).toBeUndefined();
  });
});

describe("the transitions missed while the watcher was down", () => {
  const live: DiffContext = { host: "node-1", synthesized: false, now: () => at(100) };
  const recovery = (known: ReadonlyMap<string, PodState>, current: ReadonlyMap<string, PodState>) =>
    missedTransitions(known, current, (_uid, before, after) =>
      diffPod(before, after, { ...live, synthesized: true }),
    );
  const ids = (events: readonly EventMessage[]) => events.map((event) => event.event_id).sort();

  // Recorded: app running, sidecar waiting. Then, unseen: app OOM-killed and restarted, sidecar started.
  const recorded = pod("u1", "10", [
    running("app", at(10)),
    { name: "sidecar", ready: false, state: { waiting: { reason: "ContainerCreating" } } },
  ]);
  const oomKilled = pod("u1", "11", [
    {
      name: "app",
      ready: false,
      restartCount: 0,
      state: { terminated: { exitCode: 137, reason: "OOMKilled", startedAt: at(10), finishedAt: at(30) } },
    },
    { name: "sidecar", ready: false, state: { waiting: { reason: "ContainerCreating" } } },
  ]);
  const restarted = pod("u1", "12", [
    running("app", at(31), {
      restartCount: 1,
      lastState: {
        terminated: { exitCode: 137, reason: "OOMKilled", startedAt: at(10), finishedAt: at(30) },
      },
    }),
    running("sidecar", at(32), { ready: false }),
  ]);

  it("are the facts a live watcher would have published, with the same ids, synthesized", () => {
    const seenLive = [...diffPod(recorded, oomKilled, live), ...diffPod(oomKilled, restarted, live)].filter(
      // Readiness is named by the object version it flipped in, which a list no longer shows.
      (event) => event.action !== "ready" && event.action !== "unready",
    );
    const missed = recovery(new Map([["u1", recorded]]), new Map([["u1", restarted]]));
    expect(ids(missed)).toEqual(ids(seenLive));
    expect(missed.map((event) => event.action).sort()).toEqual(["die", "oom", "restart", "start", "start"]);
    expect(missed.every((event) => event.synthesized)).toBe(true);
    expect(missed.find((event) => event.action === "die")).toMatchObject({
      event_id: `kubernetes/u1/app/die/${at(30)}`,
      exit_code: 137,
      oom_killed: true,
      ts: at(30),
    });
  });

  it("are a delete for a pod that is gone, and nothing when nothing changed", () => {
    const gone = recovery(new Map([["u1", recorded]]), new Map());
    expect(gone).toMatchObject([{ event_id: "kubernetes/u1/delete", action: "delete", synthesized: true }]);
    expect(ids(gone)).toEqual(ids(diffPod(recorded, undefined, live)));
    const read = throughBucket(restarted);
    if (read === undefined) throw new Error("not read back");
    expect(recovery(new Map([["u1", read]]), new Map([["u1", restarted]]))).toEqual([]);
  });
});
