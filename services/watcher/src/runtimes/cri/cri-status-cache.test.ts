import type { CriContainer, CriContainerStatus, CriPodSandbox } from "@crowsnest/shared/cri";
import { describe, expect, it } from "vitest";
import { captureLogger } from "../../../../../test/support/capture-logger.ts";
import { CriStatusCache } from "./cri-status-cache.ts";

const sandbox: CriPodSandbox = {
  id: "s0",
  name: "web-1",
  uid: "uid-1",
  namespace: "shop",
  attempt: 0,
  state: "ready",
  createdAtNano: 1n,
  labels: { app: "web" },
  annotations: {},
};

function container(state: CriContainer["state"]): CriContainer {
  return {
    id: "c0",
    podSandboxId: "s0",
    name: "app",
    attempt: 0,
    image: "sha256:abc",
    imageRef: "sha256:abc",
    state,
    createdAtNano: 2n,
    labels: {},
    annotations: {},
  };
}

function status(state: CriContainerStatus["state"], info: Record<string, string> = {}): CriContainerStatus {
  return {
    id: "c0",
    name: "app",
    attempt: 0,
    state,
    createdAtNano: 2n,
    startedAtNano: state === "created" ? undefined : 3n,
    finishedAtNano: state === "exited" ? 4n : undefined,
    exitCode: state === "exited" ? 1 : 0,
    image: "busybox:1",
    imageRef: "sha256:abc",
    reason: "",
    message: "",
    labels: { "io.kubernetes.container.name": "app" },
    annotations: {},
    logPath: "/var/log/pods/x/app/0.log",
    resources: undefined,
    info,
  };
}

/** A runtime whose containers the test sets; it counts the status calls. */
function fakeRuntime() {
  const runtime = {
    containers: [] as CriContainer[],
    statuses: new Map<string, CriContainerStatus>(),
    statusCalls: [] as { id: string; verbose: boolean }[],
  };
  const client = {
    negotiate: async () => ({ runtimeName: "fake", runtimeVersion: "1", runtimeApiVersion: "v1" }),
    podSandboxes: async () => [sandbox],
    containers: async () => runtime.containers,
    containerStatus: async (id: string, verbose: boolean) => {
      runtime.statusCalls.push({ id, verbose });
      return runtime.statuses.get(id);
    },
  };
  return { runtime, client };
}

describe("CriStatusCache", () => {
  it("reads a status only for new containers (verbose, for the limits) and changed ones", async () => {
    const { runtime, client } = fakeRuntime();
    let now = 1000;
    const cache = new CriStatusCache({
      client,
      logger: captureLogger().logger,
      timeoutMs: 1000,
      now: () => now,
    });
    runtime.containers = [container("running")];
    const spec = {
      pid: 42,
      runtimeSpec: {
        linux: { resources: { memory: { limit: 1024 }, cpu: { quota: 50_000, period: 100_000 } } },
      },
    };
    runtime.statuses.set("c0", status("running", { info: JSON.stringify(spec) }));
    const first = await cache.poll();
    expect(first.containers.map((change) => [change.before?.state, change.after?.state])).toEqual([
      [undefined, "running"],
    ]);
    expect(cache.containers()[0]).toMatchObject({
      podNamespace: "shop",
      podName: "web-1",
      podUid: "uid-1",
      image: "busybox:1",
      memLimitBytes: 1024,
      cpuLimitCores: 0.5,
      pid: 42,
      labels: { app: "web", "io.kubernetes.container.name": "app" },
    });

    now = 2000;
    expect((await cache.poll()).containers).toEqual([]);
    expect(runtime.statusCalls).toEqual([{ id: "c0", verbose: true }]);

    now = 3000;
    runtime.containers = [container("exited")];
    runtime.statuses.set("c0", status("exited"));
    const changed = await cache.poll();
    expect(changed.containers.map((change) => [change.before?.state, change.after?.state])).toEqual([
      ["running", "exited"],
    ]);
    expect(runtime.statusCalls.at(-1)).toEqual({ id: "c0", verbose: false });
    // The limits read once are kept; the pid only while it runs.
    expect(cache.containers()[0]).toMatchObject({ exitCode: 1, memLimitBytes: 1024, pid: null });

    runtime.containers = [];
    const gone = await cache.poll();
    expect(gone.containers.map((change) => [change.before?.state, change.after])).toEqual([
      ["exited", undefined],
    ]);
  });

  it("answers newer-than from what changed after a time, waiting (bounded) for a change", async () => {
    const { runtime, client } = fakeRuntime();
    let now = 1000;
    const cache = new CriStatusCache({
      client,
      logger: captureLogger().logger,
      timeoutMs: 1000,
      now: () => now,
    });
    runtime.containers = [container("running")];
    runtime.statuses.set("c0", status("running"));
    await cache.poll();
    expect(cache.newerThan(999).map((record) => record.id)).toEqual(["c0"]);
    expect(cache.newerThan(1000)).toEqual([]);

    // Nothing newer yet: the reader waits until a poll brings a change.
    const waiting = cache.getNewerThan(1000, 60_000);
    now = 2000;
    runtime.containers = [container("exited")];
    runtime.statuses.set("c0", status("exited"));
    await cache.poll();
    expect((await waiting).map((record) => record.state)).toEqual(["exited"]);

    // Nothing comes: the wait ends empty at its bound.
    expect(await cache.getNewerThan(2000, 0)).toEqual([]);
  });

  it("skips a container whose sandbox the list does not show yet, and one removed before its status", async () => {
    const { runtime, client } = fakeRuntime();
    const cache = new CriStatusCache({ client, logger: captureLogger().logger, timeoutMs: 1000 });
    runtime.containers = [
      { ...container("running"), podSandboxId: "elsewhere" },
      { ...container("running"), id: "c9" },
    ];
    const result = await cache.poll();
    expect(result.containers).toEqual([]);
    expect(runtime.statusCalls.map((call) => call.id)).toEqual(["c9"]);
  });
});
