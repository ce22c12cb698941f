import { describe, expect, it } from "vitest";
import { inspectFixture } from "./fixtures/docker-stats-fixtures.ts";
import { LimitsCache } from "./limits-cache.ts";

function setup(answers: Record<string, unknown> = {}) {
  let nowMs = 0;
  const inspected: string[] = [];
  const current = { ...answers };
  const cache = new LimitsCache({
    inspect: async (id) => {
      inspected.push(id);
      const answer = current[id];
      if (answer === undefined) throw new Error(`cannot inspect ${id}`);
      return answer;
    },
    ttlMs: 60_000,
    now: () => nowMs,
  });
  return {
    cache,
    inspected,
    current,
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

describe("LimitsCache", () => {
  it("inspects a container once and answers from the cache until the TTL runs out", async () => {
    const { cache, inspected, advance, current } = setup({ a: inspectFixture({ Memory: 1024 }) });
    expect((await cache.get("a")).limits.memLimitBytes).toBe(1024);
    advance(59_000);
    await cache.get("a");
    expect(inspected).toEqual(["a"]);
    current.a = inspectFixture({ Memory: 2048 });
    advance(1000);
    expect((await cache.get("a")).limits.memLimitBytes).toBe(2048);
    expect(inspected).toEqual(["a", "a"]);
  });

  it("answers a peek from a fresh entry only, without inspecting", async () => {
    const { cache, inspected, advance } = setup({ a: inspectFixture({ Memory: 1024 }) });
    expect(cache.peek("a")).toBeUndefined();
    await cache.get("a");
    expect(cache.peek("a")).toMatchObject({ limits: { memLimitBytes: 1024 }, restarted: false });
    advance(60_000);
    expect(cache.peek("a")).toBeUndefined();
    expect(inspected).toEqual(["a"]);
  });

  it("inspects again on request, and says when StartedAt moved", async () => {
    const { cache, inspected, current } = setup({ a: inspectFixture({}, "2026-11-21T20:00:00Z") });
    expect((await cache.get("a")).restarted).toBe(false);
    expect((await cache.get("a", { refresh: true })).restarted).toBe(false);
    current.a = inspectFixture({}, "2026-11-21T20:05:00Z");
    expect((await cache.get("a", { refresh: true })).restarted).toBe(true);
    expect(inspected).toHaveLength(3);
  });

  it("keeps answering with older limits when an inspect fails, and throws when it has none", async () => {
    const { cache, current, advance } = setup({ a: inspectFixture({ NanoCpus: 2e9 }) });
    await cache.get("a");
    delete current.a;
    advance(120_000);
    expect((await cache.get("a")).limits.cpuLimitCores).toBe(2);
    await expect(cache.get("b")).rejects.toThrow("cannot inspect b");
  });

  it("counts an entry as fresh again while the limit files say what they said after the inspect", async () => {
    const { cache, inspected, advance, current } = setup({ a: inspectFixture({ Memory: 1024 }) });
    expect((await cache.get("a")).inspected).toBe(true);
    expect(cache.confirm("a", "1\n1024")).toBe(true);
    for (let i = 0; i < 5; i++) {
      advance(50_000);
      expect(cache.confirm("a", "1\n1024")).toBe(true);
    }
    expect(cache.peek("a")).toMatchObject({ inspected: false, limits: { memLimitBytes: 1024 } });
    expect(inspected).toEqual(["a"]);
    // Changed files: not confirmed, and the entry ages on until it is inspected again.
    expect(cache.confirm("a", "1\n2048")).toBe(false);
    advance(60_000);
    expect(cache.peek("a")).toBeUndefined();
    current.a = inspectFixture({ Memory: 2048 });
    expect((await cache.get("a", { refresh: true })).limits.memLimitBytes).toBe(2048);
    // The first answer after that inspect is the one compared from then on.
    expect(cache.confirm("a", "1\n2048")).toBe(true);
    expect(cache.confirm("b", "1\n2048")).toBe(false);
  });

  it("forgets containers that are gone", async () => {
    const { cache } = setup({ a: inspectFixture(), b: inspectFixture() });
    await cache.get("a");
    await cache.get("b");
    cache.retainOnly(new Set(["b"]));
    expect(cache.size).toBe(1);
  });
});
