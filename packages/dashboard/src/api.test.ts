import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiFailure, api } from "./api.ts";

/** A fetch that fails like a dropped connection (a TypeError) `failures` times, then answers. */
function flakyFetch(failures: number) {
  const calls: string[] = [];
  const fetch = vi.fn(async (path: string, init: RequestInit) => {
    calls.push(`${init.method} ${path}`);
    if (calls.length <= failures) throw new TypeError("Failed to fetch");
    return new Response(JSON.stringify({ ok: true }), { status: 200 });
  });
  return { fetch, calls };
}

describe("api requests whose connection drops", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("asks again for a read, a moment later, and gets the answer", async () => {
    const { fetch, calls } = flakyFetch(2);
    vi.stubGlobal("fetch", fetch);
    const answer = api.get<{ ok: boolean }>("/api/v1/containers/7/inspect");
    await vi.advanceTimersByTimeAsync(1250);
    await expect(answer).resolves.toEqual({ ok: true });
    expect(calls).toEqual(Array(3).fill("GET /api/v1/containers/7/inspect"));
  });

  it("says the api is unreachable when a read keeps failing", async () => {
    const { fetch, calls } = flakyFetch(10);
    vi.stubGlobal("fetch", fetch);
    const answer = api.get("/api/v1/containers").catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(1250);
    const error = await answer;
    expect(error).toBeInstanceOf(ApiFailure);
    expect(error).toMatchObject({ status: 0, code: "unreachable" });
    expect(calls).toHaveLength(3);
  });

  it("never repeats a write: the first may have arrived", async () => {
    const { fetch, calls } = flakyFetch(1);
    vi.stubGlobal("fetch", fetch);
    await expect(api.post("/api/v1/alerts/rules", { metric: "cpu" })).rejects.toMatchObject({
      code: "unreachable",
    });
    expect(calls).toEqual(["POST /api/v1/alerts/rules"]);
  });
});
