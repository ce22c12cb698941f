import { describe, expect, it } from "vitest";
import { createCriRunLookup } from "./cri-inspector.ts";
import type { CriContainerRecord } from "./cri-status-cache.ts";

function run(overrides: Partial<CriContainerRecord>): CriContainerRecord {
  return {
    id: "c0aaaaaaaa",
    sandboxId: "s0",
    podNamespace: "shop",
    podName: "web-1",
    podUid: "uid-1",
    name: "app",
    attempt: 0,
    state: "exited",
    image: "busybox:1",
    imageRef: "",
    labels: {},
    createdAtNano: 1n,
    startedAtNano: undefined,
    finishedAtNano: undefined,
    exitCode: null,
    reason: "",
    message: "",
    logPath: "",
    memLimitBytes: null,
    cpuLimitCores: null,
    pid: null,
    ...overrides,
  };
}

function cacheOf(runs: CriContainerRecord[]) {
  const cache = {
    runs,
    polled: true,
    containers: () => cache.runs,
    waited: 0,
    /** What the next poll brings while a request waits. */
    next: undefined as CriContainerRecord[] | undefined,
    getNewerThan: async () => {
      cache.waited += 1;
      if (cache.next === undefined) return [];
      cache.runs = cache.next;
      return cache.next;
    },
  };
  return cache;
}

describe("createCriRunLookup", () => {
  const older = run({});
  const newer = run({ id: "c1bbbbbbbb", attempt: 1, state: "running", createdAtNano: 2n });
  const other = run({ id: "c2cccccccc", podNamespace: "test", name: "app" });

  it("finds a pod container by namespace/pod/container, pod/container or a run's id prefix: its newest run and the one before", async () => {
    const lookup = createCriRunLookup(cacheOf([older, newer]), 1000);
    for (const reference of ["shop/web-1/app", "web-1/app", "c0aaaa", "c1bbbbbbbb"]) {
      expect(await lookup(reference)).toEqual({ newest: newer, previous: older });
    }
  });

  it("refuses a name two namespaces share, and an unknown one after waiting for the next changes", async () => {
    const cache = cacheOf([newer, other]);
    const lookup = createCriRunLookup(cache, 1000);
    expect(await lookup("web-1/app")).toMatchObject({ ok: false, error: { code: "bad_request" } });
    expect(await lookup("shop/web-2/app")).toMatchObject({ ok: false, error: { code: "not_found" } });
    expect(cache.waited).toBe(1);
  });

  it("finds a container made since the last poll once the cache brings it", async () => {
    const cache = cacheOf([older]);
    cache.next = [older, run({ id: "c3dddddddd", podName: "web-2" })];
    const lookup = createCriRunLookup(cache, 1000);
    expect(await lookup("shop/web-2/app")).toMatchObject({
      newest: { id: "c3dddddddd" },
      previous: undefined,
    });
  });
});
