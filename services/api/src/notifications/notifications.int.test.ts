// Notifications configured through the api and delivered by the real store: channels with
// write-only secrets, routes, test messages, a container's mute, and the delivery log read
// back beside the alert history. Real HTTP receivers on loopback.
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_ADMIN_TOKEN, TEST_READ_TOKEN } from "../../../../test/support/api-app.ts";
import {
  FIXTURE_HOST,
  inventoryContainerFixture,
  publishInventory,
  publishStats,
  statsFixture,
} from "../../../../test/support/bus-fixtures.ts";
import { type HttpReceiver, startHttpReceiver } from "../../../../test/support/http-receiver.ts";
import { type StoreBackedApi, startStoreBackedApi } from "../../../../test/support/store-backed-api.ts";
import { eventually } from "../../../../test/support/test-env.ts";

const WEB = { external_id: "e".repeat(64), name: "web" };
const HMAC_SECRET = "api-hmac-secret-0123456789abcdef";
const TOKEN_SECRET = "Bearer api-header-secret-abcdef";

describe("notifications through the api", () => {
  let api: StoreBackedApi;
  let receiver: HttpReceiver;
  let containerId: number;
  let channelId: number;
  let second = 0;

  const call = (method: string, path: string, body?: unknown, token = TEST_ADMIN_TOKEN) =>
    api.call<Record<string, unknown>>(method, path, { body, token });
  const sample = (cpu: number) => {
    second += 10;
    const ts = new Date(Math.floor(Date.now() / 1000) * 1000 - 600_000 + second * 1000).toISOString();
    return publishStats(
      api.js,
      api.subjects,
      statsFixture({ container: WEB, ts, cpu_percent: cpu, mem_used: 100, mem_limit: 1000 }),
    );
  };
  const alertBodies = () =>
    receiver.requests
      .filter((r) => r.headers["x-crowsnest-event"] === "alert_transition")
      .map((r) => JSON.parse(r.body) as { transition_id: string; change: string; value: number });

  beforeAll(async () => {
    receiver = await startHttpReceiver();
    api = await startStoreBackedApi({
      storeEnv: { CROWSNEST_NOTIFY_RETRY_MIN_DELAY_MS: "200", CROWSNEST_NOTIFY_POLL_MS: "200" },
    });
    await publishInventory(api.js, api.subjects, {
      v: 1,
      host: FIXTURE_HOST,
      runtime: "docker",
      ts: new Date(Date.now() - 3600_000).toISOString(),
      reason: "startup",
      snapshot_id: "s1",
      part: 1,
      parts: 1,
      containers: [inventoryContainerFixture({ ...WEB, labels: { team: "shop" } })],
    });
    containerId = await eventually(
      async () => (await api.postgres.db.selectFrom("containers").select("id").executeTakeFirst())?.id,
      { timeoutMs: 15_000, what: "the container stored" },
    );
  });

  afterAll(async () => {
    await api?.close();
    await receiver?.stop();
  });

  it("creates a webhook channel and never answers with its secrets", async () => {
    const created = await call("POST", "/api/v1/notifications/channels", {
      name: "ops-hook",
      type: "webhook",
      settings: { url: `${receiver.url}/hook` },
      secrets: { hmac_secret: HMAC_SECRET, headers: { Authorization: TOKEN_SECRET } },
    });
    expect(created.status).toBe(201);
    channelId = Number(created.body.id);
    expect(created.body).toMatchObject({
      name: "ops-hook",
      type: "webhook",
      enabled: true,
      settings: { url: `${receiver.url}/hook` },
      secrets_set: ["headers.Authorization", "hmac_secret"],
      rate_limit_per_minute: 30,
    });
    const answers = [
      created,
      await call("GET", "/api/v1/notifications/channels", undefined, TEST_READ_TOKEN),
      await call("GET", `/api/v1/notifications/channels/${channelId}`, undefined, TEST_READ_TOKEN),
      // Replaced without secrets: the stored ones are kept.
      await call("PUT", `/api/v1/notifications/channels/${channelId}`, {
        name: "ops-hook",
        type: "webhook",
        settings: { url: `${receiver.url}/hook` },
      }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(answer === created ? 201 : 200);
      const text = JSON.stringify(answer.body);
      expect(text).not.toContain(HMAC_SECRET);
      expect(text).not.toContain("api-header-secret");
    }
    expect(answers[3]?.body.secrets_set).toEqual(["headers.Authorization", "hmac_secret"]);
  });

  it("refuses bad channels with a 400 naming the field, never echoing a secret", async () => {
    const bad = [
      { name: "a", type: "webhook", settings: { url: "ftp://x" } },
      { name: "b", type: "pager", settings: {} },
      { name: "c", type: "slack", secrets: { webhook_url: "not a url but secret-ish-value" } },
      { name: "d", type: "webhook", settings: { url: "http://x" }, secrets: { hmac_secret: "short" } },
      { name: "e", type: "email", settings: { host: "mail", from: "x", to: [] } },
      { name: "ops-hook", type: "webhook", settings: { url: "http://x" } },
    ];
    for (const body of bad) {
      const answer = await call("POST", "/api/v1/notifications/channels", body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      const text = JSON.stringify(answer.body);
      expect(text).not.toContain("secret-ish-value");
      expect(text).not.toContain('"short"');
    }
    const typeChange = await call("PUT", `/api/v1/notifications/channels/${channelId}`, {
      name: "ops-hook",
      type: "slack",
    });
    expect(typeChange.status).toBe(400);
    expect(JSON.stringify(typeChange.body)).toContain("secrets: required");
    const readOnly = await call(
      "POST",
      "/api/v1/notifications/channels",
      { name: "z", type: "webhook", settings: { url: "http://127.0.0.1:1" } },
      TEST_READ_TOKEN,
    );
    expect(readOnly.status).toBe(403);
  });

  it("sends a test message and reports the channel's answer, good or bad", async () => {
    const ok = await call("POST", `/api/v1/notifications/channels/${channelId}/test`);
    expect(ok).toEqual({ status: 200, body: { delivered: true, answer: "HTTP 200: ok" } });
    const test = receiver.requests.find((r) => r.headers["x-crowsnest-event"] === "test");
    expect(JSON.parse(test?.body ?? "{}")).toMatchObject({ v: 1, type: "test", channel: "ops-hook" });
    expect(test?.headers.authorization).toBe(TOKEN_SECRET);
    const timestamp = String(test?.headers["x-crowsnest-timestamp"]);
    expect(test?.headers["x-crowsnest-signature"]).toBe(
      `sha256=${createHmac("sha256", HMAC_SECRET).update(`${timestamp}.${test?.body}`).digest("hex")}`,
    );
    receiver.respond = () => ({ status: 500, body: "receiver broken" });
    const failing = await call("POST", `/api/v1/notifications/channels/${channelId}/test`);
    receiver.respond = () => ({ status: 200, body: "ok" });
    expect(failing).toEqual({ status: 200, body: { delivered: false, answer: "HTTP 500: receiver broken" } });
    const down = await startHttpReceiver();
    await down.stop();
    const unreachable = await call("POST", "/api/v1/notifications/channels", {
      name: "nowhere",
      type: "webhook",
      settings: { url: `${down.url}/x` },
    });
    const refused = await call("POST", `/api/v1/notifications/channels/${unreachable.body.id}/test`);
    expect(refused.body).toEqual({
      delivered: false,
      answer: expect.stringMatching(/^could not reach the channel: ECONNREFUSED/),
    });
    expect((await call("DELETE", `/api/v1/notifications/channels/${unreachable.body.id}`)).status).toBe(204);
    expect((await call("POST", "/api/v1/notifications/channels/999999/test")).status).toBe(404);
  });

  it("validates routes: existing channels, well-formed quiet hours", async () => {
    const missing = await call("POST", "/api/v1/notifications/routes", { name: "r", channel_ids: [999999] });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body)).toContain("no channel with id 999999");
    const quiet = await call("POST", "/api/v1/notifications/routes", {
      name: "r",
      channel_ids: [channelId],
      quiet_hours: { start: "22:00", end: "7", time_zone: "Nowhere/Land" },
    });
    expect(quiet.status).toBe(400);
    expect(JSON.stringify(quiet.body)).toMatch(/quiet_hours: .*HH:MM.*IANA/);
    const badMetric = await call("POST", "/api/v1/notifications/routes", {
      name: "r",
      channel_ids: [channelId],
      metrics: ["disk"],
    });
    expect(badMetric.status).toBe(400);
    const first = await call("POST", "/api/v1/notifications/routes", {
      name: "dup",
      channel_ids: [channelId],
      enabled: false,
    });
    expect(first.status).toBe(201);
    const again = await call("POST", "/api/v1/notifications/routes", {
      name: "dup",
      channel_ids: [channelId],
    });
    expect(again.status).toBe(400);
    expect(JSON.stringify(again.body)).toContain('a route named \\"dup\\" exists');
    expect((await call("DELETE", `/api/v1/notifications/routes/${first.body.id}`)).status).toBe(204);
    expect((await call("DELETE", `/api/v1/notifications/routes/${first.body.id}`)).status).toBe(404);
  });

  it("delivers a fired alert along a route, and shows its delivery log beside the alert history", async () => {
    const route = await call("POST", "/api/v1/notifications/routes", {
      name: "shop-cpu",
      channel_ids: [channelId],
      selector: { team: "shop" },
      metrics: ["cpu"],
    });
    expect(route.status).toBe(201);
    expect(route.body).toMatchObject({
      channel_ids: [channelId],
      selector: { team: "shop" },
      hosts: [],
      quiet_hours: null,
    });
    expect(
      (
        await call("PUT", `/api/v1/containers/${containerId}/alerts/config`, {
          cpu_threshold: 50,
          consecutive_breaches: 1,
        })
      ).status,
    ).toBe(200);
    // The store picks configuration up within seconds: breach until it fires.
    const fired = await eventually(
      async () => {
        await sample(90);
        return alertBodies().find((b) => b.change === "fired");
      },
      { timeoutMs: 30_000, intervalMs: 1000, what: "the fired alert at the webhook" },
    );
    expect(fired).toMatchObject({
      metric: "cpu",
      value: 90,
      threshold: 50,
      container: { id: containerId, name: "web" },
    });
    const log = await eventually(
      async () => {
        const answer = await call(
          "GET",
          `/api/v1/alerts/history/${fired.transition_id}/notifications`,
          undefined,
          TEST_READ_TOKEN,
        );
        const [delivery] = answer.body.data as { status: string }[];
        return delivery?.status === "sent" ? answer.body.data : undefined;
      },
      { timeoutMs: 15_000, what: "the delivery recorded as sent" },
    );
    expect(log).toEqual([
      {
        id: expect.any(Number),
        transition_id: Number(fired.transition_id),
        container_id: containerId,
        channel: { id: channelId, name: "ops-hook", type: "webhook" },
        status: "sent",
        attempts: 1,
        next_attempt_at: null,
        last_answer: "HTTP 200: ok",
        queued_at: expect.any(String),
        finished_at: expect.any(String),
        log: [
          { ts: expect.any(String), event: "queued", attempt: 0, answer: null },
          { ts: expect.any(String), event: "sent", attempt: 1, answer: "HTTP 200: ok" },
        ],
      },
    ]);
    // The alert history says it too, per transition.
    const history = await call(
      "GET",
      `/api/v1/containers/${containerId}/alerts/history?change=fired`,
      undefined,
      TEST_READ_TOKEN,
    );
    const listedTransition = (history.body.data as { id: number; notifications: unknown }[]).find(
      (transition) => transition.id === Number(fired.transition_id),
    );
    expect(listedTransition?.notifications).toEqual([
      { channel_id: channelId, channel: "ops-hook", status: "sent", attempts: 1 },
    ]);
    const listed = await call(
      "GET",
      `/api/v1/notifications/deliveries?channel_id=${channelId}&status=sent`,
      undefined,
      TEST_READ_TOKEN,
    );
    expect((listed.body.data as { transition_id: number }[]).map((d) => d.transition_id)).toContain(
      Number(fired.transition_id),
    );
    expect(
      (await call("GET", "/api/v1/notifications/deliveries?status=nope", undefined, TEST_READ_TOKEN)).status,
    ).toBe(400);
    expect(
      (await call("GET", "/api/v1/alerts/history/999999/notifications", undefined, TEST_READ_TOKEN)).status,
    ).toBe(404);
  });

  it("notifies no one of a muted container, and again once unmuted", async () => {
    const muted = await call("PUT", `/api/v1/containers/${containerId}/notifications/mute`, {});
    expect(muted.body).toEqual({ container_id: containerId, muted: true, until: null });
    const before = alertBodies().length;
    await sample(5); // resolves, muted
    await eventually(
      async () => {
        const history = await call(
          "GET",
          `/api/v1/containers/${containerId}/alerts/history`,
          undefined,
          TEST_READ_TOKEN,
        );
        return (history.body.data as { change: string }[])[0]?.change === "resolved" ? true : undefined;
      },
      { timeoutMs: 15_000, what: "the resolve recorded" },
    );
    const unmuted = await call("DELETE", `/api/v1/containers/${containerId}/notifications/mute`);
    expect(unmuted.body).toEqual({ container_id: containerId, muted: false, until: null });
    // Transitions are fanned out in order: once this one arrives, the muted one was skipped.
    await sample(95);
    await eventually(() => (alertBodies().length > before ? true : undefined), {
      timeoutMs: 15_000,
      what: "the next fired alert",
    });
    expect(
      alertBodies()
        .slice(before)
        .map((b) => b.change),
    ).toEqual(["fired"]);
    for (const record of api.store.logs) {
      const line = JSON.stringify(record);
      expect(line).not.toContain(HMAC_SECRET);
      expect(line).not.toContain("api-header-secret");
    }
  });
});
