// The exposition Prometheus scrapes from /metrics, against a Postgres the real store fills: how
// many live containers the per-scrape limit leaves out, and dead letters as a proper counter.
import { zeroDeadletterCounts } from "@crowsnest/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishStats, statsFixture } from "../../../../test/support/bus-fixtures.ts";
import { type StoreBackedApi, startStoreBackedApi } from "../../../../test/support/store-backed-api.ts";
import { eventually } from "../../../../test/support/test-env.ts";
import { ApiMetrics } from "./api-metrics.ts";

const FRESH_CONTAINERS = 29;
const MAX_CONTAINERS = 20;

describe("/metrics exposition", () => {
  let api: StoreBackedApi;
  let metrics: ApiMetrics;
  const deadletters = { counts: zeroDeadletterCounts() };

  beforeAll(async () => {
    api = await startStoreBackedApi();
    metrics = new ApiMetrics(
      { agents: { list: () => [] }, openStreams: () => 0, deadletters, maxContainers: MAX_CONTAINERS },
      api.postgres.db,
    );
    const now = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
    for (let i = 0; i < FRESH_CONTAINERS; i++) {
      const container = { external_id: `${i}`.padStart(64, "f"), name: `fresh-${i}` };
      await publishStats(api.js, api.subjects, statsFixture({ ts: now, container }));
    }
    await eventually(
      async () => ((await api.count("container_stats")) === FRESH_CONTAINERS ? true : undefined),
      { timeoutMs: 20_000, what: "the store to write every container's sample" },
    );
  });

  afterAll(async () => {
    await api?.close();
  });

  it("counts every live container the per-scrape limit leaves out", async () => {
    const text = await metrics.render();
    expect(text.match(/^crowsnest_container_cpu_percent\{/gm)).toHaveLength(MAX_CONTAINERS);
    expect(text).toContain(`crowsnest_metrics_containers_left_out ${FRESH_CONTAINERS - MAX_CONTAINERS}\n`);
  });

  it("exports dead letters as a counter that only goes up", async () => {
    deadletters.counts.invalid_json = 3;
    const first = await metrics.render();
    expect(first).toContain("# TYPE crowsnest_api_deadletters_total counter");
    expect(first).toContain('crowsnest_api_deadletters_total{reason="invalid_json"} 3\n');
    expect(first).toContain('crowsnest_api_deadletters_total{reason="invalid_schema"} 0\n');
    deadletters.counts.invalid_json = 5;
    deadletters.counts.invalid_schema = 1;
    const second = await metrics.render();
    expect(second).toContain('crowsnest_api_deadletters_total{reason="invalid_json"} 5\n');
    expect(second).toContain('crowsnest_api_deadletters_total{reason="invalid_schema"} 1\n');
  });
});
