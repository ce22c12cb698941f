// Alert configuration through the api, evaluated by the real store's engine: what a user sets
// is what fires, shows as active, lands in the history, and resolves.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertConfigApplied } from "../../../../test/support/alert-config-applied.ts";
import { TEST_ADMIN_TOKEN, TEST_READ_TOKEN } from "../../../../test/support/api-app.ts";
import {
  FIXTURE_HOST,
  inventoryContainerFixture,
  publishInventory,
  publishStats,
  statsFixture,
} from "../../../../test/support/bus-fixtures.ts";
import { type StoreBackedApi, startStoreBackedApi } from "../../../../test/support/store-backed-api.ts";
import { eventually } from "../../../../test/support/test-env.ts";

const WEB = { external_id: "f".repeat(64), name: "web" };
const WORKER = { external_id: "9".repeat(64), name: "worker" };

describe("alerts through the api", () => {
  let api: StoreBackedApi;
  const ids: Record<string, number> = {};
  let second = 0;

  /** An admin-token request unless another token is given. */
  const call = (method: string, path: string, body?: unknown, token = TEST_ADMIN_TOKEN) =>
    api.call(method, path, { body, token });
  const sample = (cpu: number) => {
    second += 10;
    const ts = new Date(Math.floor(Date.now() / 1000) * 1000 - 600_000 + second * 1000).toISOString();
    return publishStats(
      api.js,
      api.subjects,
      statsFixture({ container: WEB, ts, cpu_percent: cpu, mem_used: 100, mem_limit: 1000 }),
    );
  };

  beforeAll(async () => {
    api = await startStoreBackedApi();
    await publishInventory(api.js, api.subjects, {
      v: 1,
      host: FIXTURE_HOST,
      runtime: "docker",
      ts: new Date(Date.now() - 3600_000).toISOString(),
      reason: "startup",
      snapshot_id: "s1",
      part: 1,
      parts: 1,
      containers: [
        inventoryContainerFixture({ ...WEB, labels: { tier: "web" } }),
        inventoryContainerFixture({ ...WORKER, labels: { tier: "web", team: "batch" } }),
      ],
    });
    await sample(1);
    await eventually(
      async () => {
        const rows = await api.postgres.db.selectFrom("containers").select(["id", "name"]).execute();
        for (const row of rows) ids[row.name] = row.id;
        return rows.length === 2 && (await api.count("container_stats")) === 1 ? true : undefined;
      },
      { timeoutMs: 15_000, what: "containers and the first sample stored" },
    );
  });

  afterAll(async () => {
    await api?.close();
  });

  it("shows no alerting until configured, then a container's own settings", async () => {
    const before = await call(
      "GET",
      `/api/v1/containers/${ids.web}/alerts/config`,
      undefined,
      TEST_READ_TOKEN,
    );
    expect(before.body).toMatchObject({
      source: "none",
      enabled: false,
      cpu_threshold: 90,
      memory_alert_possible: true,
    });
    const put = await call("PUT", `/api/v1/containers/${ids.web}/alerts/config`, {
      cpu_threshold: 50,
      mem_threshold: null,
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      source: "container",
      enabled: true,
      cpu_threshold: 50,
      mem_threshold: null,
      consecutive_breaches: 2,
    });
  });

  it("fires after two breaches, lists it as active with value and threshold, and resolves it", async () => {
    await alertConfigApplied(api.store, api.postgres.pool);
    await sample(60);
    await sample(70);
    const active = await eventually(
      async () => {
        const { body } = await call("GET", "/api/v1/alerts/active", undefined, TEST_READ_TOKEN);
        return (body.data as unknown[]).length > 0 ? body.data : undefined;
      },
      { timeoutMs: 15_000, what: "an active alert" },
    );
    expect(active).toEqual([
      {
        container_id: ids.web,
        name: "web",
        host: FIXTURE_HOST,
        state: "cpu_alert",
        alerts: [{ metric: "cpu", fired_at: expect.any(String), value: 70, threshold: 50 }],
      },
    ]);
    await sample(10);
    await eventually(
      async () => {
        const { body } = await call("GET", "/api/v1/alerts/active", undefined, TEST_READ_TOKEN);
        return (body.data as unknown[]).length === 0 ? true : undefined;
      },
      { timeoutMs: 15_000, what: "the alert resolved" },
    );
    const history = await call(
      "GET",
      `/api/v1/containers/${ids.web}/alerts/history`,
      undefined,
      TEST_READ_TOKEN,
    );
    expect(
      (history.body.data as { change: string; value: number; new_state: string }[]).map((t) => [
        t.change,
        t.value,
        t.new_state,
      ]),
    ).toEqual([
      ["resolved", 10, "normal"],
      ["fired", 70, "cpu_alert"],
    ]);
    const fired = await call(
      "GET",
      "/api/v1/alerts/history?change=fired&metric=cpu",
      undefined,
      TEST_READ_TOKEN,
    );
    expect((fired.body.data as unknown[]).length).toBe(1);
  });

  it("applies label rules by priority, and the container's own settings over any rule", async () => {
    const low = await call("POST", "/api/v1/alert-rules", {
      name: "web tier",
      selector: { tier: "web" },
      cpu_threshold: 80,
    });
    expect(low.status).toBe(201);
    const high = await call("POST", "/api/v1/alert-rules", {
      name: "batch team",
      selector: { team: "batch" },
      priority: 5,
      cpu_threshold: 95,
    });
    const worker = await call("GET", `/api/v1/containers/${ids.worker}/alerts/config`);
    expect(worker.body).toMatchObject({
      source: "rule",
      cpu_threshold: 95,
      rule: { id: high.body.id, name: "batch team" },
    });
    expect((await call("GET", `/api/v1/containers/${ids.web}/alerts/config`)).body).toMatchObject({
      source: "container",
    });
    await call("DELETE", `/api/v1/containers/${ids.web}/alerts/config`);
    expect((await call("GET", `/api/v1/containers/${ids.web}/alerts/config`)).body).toMatchObject({
      source: "rule",
      rule: { name: "web tier" },
    });
    expect((await call("DELETE", `/api/v1/alert-rules/${high.body.id}`)).status).toBe(204);
    expect((await call("GET", `/api/v1/containers/${ids.worker}/alerts/config`)).body).toMatchObject({
      rule: { name: "web tier" },
    });
    expect((await call("GET", "/api/v1/alert-rules")).body.data).toHaveLength(1);
    const renamed = await call("PUT", `/api/v1/alert-rules/${low.body.id}`, {
      name: "web",
      selector: { tier: "web" },
    });
    expect(renamed.body).toMatchObject({ name: "web", cpu_threshold: 90 });
  });

  it("refuses writes with a read token, bad bodies and duplicate names", async () => {
    expect(
      (await call("PUT", `/api/v1/containers/${ids.web}/alerts/config`, {}, TEST_READ_TOKEN)).status,
    ).toBe(403);
    const cases: [string, string, unknown][] = [
      ["PUT", `/api/v1/containers/${ids.web}/alerts/config`, { cpu_threshold: -1 }],
      ["PUT", `/api/v1/containers/${ids.web}/alerts/config`, { mem_threshold: 150 }],
      ["PUT", `/api/v1/containers/${ids.web}/alerts/config`, { consecutive_breaches: 0 }],
      ["PUT", `/api/v1/containers/${ids.web}/alerts/config`, { cpu_threshhold: 50 }],
      ["PUT", `/api/v1/containers/${ids.web}/alerts/config`, "{not json"],
      ["PUT", `/api/v1/containers/${ids.web}/alerts/config`, [1, 2]],
      ["POST", "/api/v1/alert-rules", { selector: { tier: "web" } }],
      ["POST", "/api/v1/alert-rules", { name: "x", selector: { "bad key!": "v" } }],
      ["POST", "/api/v1/alert-rules", { name: "web" }],
    ];
    for (const [method, path, body] of cases) {
      const response = await call(method, path, body);
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(response.body).toMatchObject({ error: { code: "invalid_request" } });
    }
    expect((await call("PUT", "/api/v1/containers/987654/alerts/config", {})).status).toBe(404);
    expect((await call("DELETE", "/api/v1/alert-rules/987654")).status).toBe(404);
  });
});
