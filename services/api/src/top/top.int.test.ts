// Top consumers as the api serves them from what the real store wrote: ranked by absolute
// value (not by percent of limit), with percent of limit alongside, filtered by labels and host.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FIXTURE_HOST,
  inventoryContainerFixture,
  publishInventory,
  publishStats,
  statsFixture,
} from "../../../../test/support/bus-fixtures.ts";
import { type StoreBackedApi, startStoreBackedApi } from "../../../../test/support/store-backed-api.ts";
import { eventually } from "../../../../test/support/test-env.ts";

const A = { external_id: "a".repeat(64), name: "alpha" };
const B = { external_id: "b".repeat(64), name: "bravo" };
const C = { external_id: "c".repeat(64), name: "charlie" };

interface TopBody {
  unit: string;
  data: { name: string; value: number; percent_of_limit: number | null; rank: number; max: number | null }[];
}

describe("top consumers", () => {
  let api: StoreBackedApi;
  const top = (query: string) => api.call<TopBody>("GET", `/api/v1/top?${query}`);

  beforeAll(async () => {
    api = await startStoreBackedApi();
    const now = Date.now();
    await publishInventory(api.js, api.subjects, {
      v: 1,
      host: FIXTURE_HOST,
      runtime: "docker",
      ts: new Date(now - 3600_000).toISOString(),
      reason: "startup",
      snapshot_id: "s1",
      part: 1,
      parts: 1,
      containers: [
        inventoryContainerFixture({ ...A, labels: { tier: "web" } }),
        inventoryContainerFixture({ ...B, labels: { tier: "db" } }),
        inventoryContainerFixture({ ...C, labels: { tier: "web" } }),
      ],
    });
    const at = (msAgo: number) => new Date(Math.floor((now - msAgo) / 1000) * 1000).toISOString();
    const samples = [
      statsFixture({
        container: A,
        ts: at(600_000),
        cpu_percent: 60,
        cpu_limit_cores: 1,
        mem_used: 500,
        mem_limit: 1000,
      }),
      statsFixture({
        container: A,
        ts: at(5000),
        cpu_percent: 80,
        cpu_limit_cores: 1,
        mem_used: 500,
        mem_limit: 1000,
        net_rx_bytes_per_s: 10,
        net_tx_bytes_per_s: 5,
      }),
      statsFixture({
        container: B,
        ts: at(5000),
        cpu_percent: 50,
        cpu_limit_cores: 0.25,
        mem_used: 900,
        mem_limit: null,
        net_rx_bytes_per_s: 100,
        net_tx_bytes_per_s: 1,
      }),
      statsFixture({ container: C, ts: at(5000), cpu_percent: 10, mem_used: 100, mem_limit: 200 }),
    ];
    for (const sample of samples) await publishStats(api.js, api.subjects, sample);
    await eventually(
      async () =>
        (await api.count("container_stats")) === samples.length && (await api.count("containers")) === 3
          ? true
          : undefined,
      { timeoutMs: 15_000, what: "the samples stored" },
    );
  });

  afterAll(async () => {
    await api?.close();
  });

  it("ranks the newest samples by absolute CPU, with percent of the CPU limit alongside", async () => {
    const { status, body } = await top("metric=cpu");
    expect(status).toBe(200);
    expect(body.unit).toBe("percent_of_core");
    expect(body.data.map((r) => [r.rank, r.name, r.value, r.percent_of_limit])).toEqual([
      [1, "alpha", 80, 80],
      [2, "bravo", 50, 200],
      [3, "charlie", 10, null],
    ]);
  });

  it("ranks memory by bytes, not by percent of limit", async () => {
    const { body } = await top("metric=memory&period=now");
    expect(body.data.map((r) => [r.name, r.value, r.percent_of_limit])).toEqual([
      ["bravo", 900, null],
      ["alpha", 500, 50],
      ["charlie", 100, 50],
    ]);
  });

  it("averages over a period and keeps the max", async () => {
    const { body } = await top("metric=cpu&period=1h&limit=1");
    expect(body.data).toEqual([
      expect.objectContaining({ name: "alpha", value: 70, max: 80, samples: 2, percent_of_limit: 70 }),
    ]);
    const network = await top("metric=network&period=1h");
    expect(network.body.data.map((r) => [r.name, r.value])).toEqual([
      ["bravo", 101],
      ["alpha", 15],
    ]);
  });

  it("filters by labels and host", async () => {
    expect((await top("metric=cpu&label=tier=web")).body.data.map((r) => r.name)).toEqual([
      "alpha",
      "charlie",
    ]);
    expect((await top("metric=cpu&label=tier!=web")).body.data.map((r) => r.name)).toEqual(["bravo"]);
    expect((await top("metric=cpu&host=elsewhere")).body.data).toEqual([]);
  });

  it.each([
    ["metric=disk", "metric"],
    ["metric=cpu&period=2h", "period"],
    ["metric=cpu&limit=101", "limit"],
    ["metric=cpu&label=tier", "label"],
    ["period=now", "metric"],
  ])("answers %s with a 400 naming %s", async (query, field) => {
    const { status, body } = await api.call<{ error: { message: string } }>("GET", `/api/v1/top?${query}`);
    expect(status).toBe(400);
    expect(body.error.message).toContain(field);
  });
});
