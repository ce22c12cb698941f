import { describe, expect, it } from "vitest";
import { diffCriContainer, diffCriSandbox, inTimeOrder } from "./cri-event-differ.ts";
import type { CriContainerRecord, CriSandboxRecord } from "./cri-status-cache.ts";

const context = { host: "node-1", synthesized: false, nowMs: 1_800_000_000_000 };
const S = 1_000_000_000n;

function run(overrides: Partial<CriContainerRecord> = {}): CriContainerRecord {
  return {
    id: "c0",
    sandboxId: "s0",
    podNamespace: "shop",
    podName: "web-1",
    podUid: "uid-1",
    name: "app",
    attempt: 0,
    state: "created",
    image: "busybox:1",
    imageRef: "sha256:abc",
    labels: { app: "web" },
    createdAtNano: 100n * S,
    startedAtNano: undefined,
    finishedAtNano: undefined,
    exitCode: null,
    reason: "",
    message: "",
    logPath: "/var/log/pods/x/app/0.log",
    memLimitBytes: null,
    cpuLimitCores: null,
    pid: null,
    ...overrides,
  };
}

const running = (overrides: Partial<CriContainerRecord> = {}) =>
  run({ state: "running", startedAtNano: 101n * S, ...overrides });
const exited = (overrides: Partial<CriContainerRecord> = {}) =>
  running({ state: "exited", finishedAtNano: 105n * S, exitCode: 3, reason: "Error", ...overrides });

const summary = (events: ReturnType<typeof diffCriContainer>) => events.map((event) => event.action);

describe("diffCriContainer", () => {
  it("publishes create, start and die of a run seen whole, with ids made of the pod uid, name and attempt", () => {
    const events = diffCriContainer(undefined, exited(), context, true);
    expect(summary(events)).toEqual(["create", "start", "die"]);
    expect(events.map((event) => event.event_id)).toEqual([
      "node-1/cri/uid-1/app/0/create",
      "node-1/cri/uid-1/app/0/start",
      "node-1/cri/uid-1/app/0/die",
    ]);
    expect(events[2]).toMatchObject({
      runtime: "cri",
      actor: { external_id: "shop/web-1/app", name: "shop/web-1/app" },
      exit_code: 3,
      oom_killed: false,
      ts_nano: (105n * S).toString(),
      attributes: {
        app: "web",
        "io.kubernetes.pod.namespace": "shop",
        "io.kubernetes.pod.name": "web-1",
        "io.kubernetes.pod.uid": "uid-1",
        "io.kubernetes.container.name": "app",
        exitCode: "3",
        reason: "Error",
        restart_count: "0",
      },
    });
  });

  it("publishes only the facts the earlier state did not have", () => {
    expect(summary(diffCriContainer(run(), running(), context, true))).toEqual(["start"]);
    expect(summary(diffCriContainer(running(), exited(), context, true))).toEqual(["die"]);
    expect(diffCriContainer(exited(), exited(), context, true)).toEqual([]);
  });

  it("puts a die the runtime timed just before its start (an immediate exit) at the start, after it", () => {
    const events = inTimeOrder(
      diffCriContainer(
        undefined,
        exited({ startedAtNano: 101n * S + 500n, finishedAtNano: 101n * S }),
        context,
        true,
      ),
    );
    expect(events.map((event) => `${event.action}@${event.ts_nano}`)).toEqual([
      `create@${100n * S}`,
      `start@${101n * S + 500n}`,
      `die@${101n * S + 500n}`,
    ]);
  });

  it("turns OOMKilled into an oom before a die marked oom_killed", () => {
    const events = diffCriContainer(running(), exited({ exitCode: 137, reason: "OOMKilled" }), context, true);
    expect(summary(events)).toEqual(["oom", "die"]);
    expect(events[1]).toMatchObject({ exit_code: 137, oom_killed: true });
  });

  it("publishes a restart for every run after the first, with its attempt as the restart count", () => {
    const events = diffCriContainer(undefined, running({ id: "c1", attempt: 2 }), context, true);
    expect(summary(events)).toEqual(["create", "start", "restart"]);
    expect(events[2]?.attributes.restart_count).toBe("2");
    expect(events[2]?.event_id).toBe("node-1/cri/uid-1/app/2/restart");
  });

  it("on removal: a die for a run removed while running, and destroy unless another run remains", () => {
    expect(summary(diffCriContainer(running(), undefined, context, false))).toEqual(["die", "destroy"]);
    expect(summary(diffCriContainer(exited(), undefined, context, false))).toEqual(["destroy"]);
    expect(diffCriContainer(exited(), undefined, context, true)).toEqual([]);
  });

  it("marks events inferred after a gap as synthesized, with the same ids", () => {
    const live = diffCriContainer(running(), exited(), context, true);
    const inferred = diffCriContainer(running(), exited(), { ...context, synthesized: true }, true);
    expect(inferred.map((event) => event.event_id)).toEqual(live.map((event) => event.event_id));
    expect(inferred.every((event) => event.synthesized)).toBe(true);
  });
});

describe("diffCriSandbox", () => {
  const sandbox: CriSandboxRecord = {
    id: "s0",
    namespace: "shop",
    name: "web-1",
    uid: "uid-1",
    attempt: 0,
    state: "ready",
    createdAtNano: 99n * S,
    labels: { app: "web" },
  };

  it("publishes ready, not_ready and delete once each for the pod", () => {
    const ready = diffCriSandbox(undefined, sandbox, context, true);
    expect(ready.map((event) => [event.kind, event.action, event.actor.external_id])).toEqual([
      ["pod", "ready", "shop/web-1"],
    ]);
    expect(diffCriSandbox(sandbox, sandbox, context, true)).toEqual([]);
    const notReady = diffCriSandbox(sandbox, { ...sandbox, state: "notready" }, context, true);
    expect(notReady.map((event) => event.action)).toEqual(["not_ready"]);
    expect(
      diffCriSandbox({ ...sandbox, state: "notready" }, undefined, context, false).map((e) => e.action),
    ).toEqual(["delete"]);
    // Another sandbox of the same pod is still there: not the pod's delete.
    expect(diffCriSandbox(sandbox, undefined, context, true)).toEqual([]);
  });

  it("publishes not_ready before the delete of a pod stopped and removed between two polls", () => {
    const gone = diffCriSandbox(sandbox, undefined, context, false);
    expect(gone.map((event) => event.action)).toEqual(["not_ready", "delete"]);
    // The same id as a not_ready a poll saw, so a pod's not_ready is published once either way.
    const seen = diffCriSandbox(sandbox, { ...sandbox, state: "notready" }, context, true);
    expect(gone[0]?.event_id).toBe(seen[0]?.event_id);
  });
});

describe("inTimeOrder", () => {
  it("orders one poll's events by time, a run's own facts in their order at the same time", () => {
    const older = diffCriContainer(running(), exited({ finishedAtNano: 110n * S }), context, true);
    const newer = diffCriContainer(
      undefined,
      running({ id: "c1", attempt: 1, startedAtNano: 111n * S }),
      context,
      true,
    );
    expect(inTimeOrder([...newer, ...older]).map((event) => `${event.action}@${event.ts_nano}`)).toEqual([
      `create@${100n * S}`,
      `die@${110n * S}`,
      `start@${111n * S}`,
      `restart@${111n * S}`,
    ]);
  });
});
