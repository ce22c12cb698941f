// GET /api/v1/stream against real NATS: what a client sees, and what it sees again after a
// reconnect with Last-Event-ID (everything it missed, nothing twice).
import {
  createSubjects,
  DEFAULT_STREAM_RETENTION,
  ensureStreams,
  streamDefinitions,
  streamName,
} from "@crowsnest/shared";
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import { type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_READ_TOKEN, type TestApp } from "../../../../test/support/api-app.ts";
import {
  deleteTestStreams,
  eventFixture,
  publishEvent,
  publishStats,
  statsFixture,
} from "../../../../test/support/bus-fixtures.ts";
import { type SseEvent, sseReader } from "../../../../test/support/sse-reader.ts";
import {
  connectTestNats,
  createTestDatabase,
  eventually,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../../test/support/test-env.ts";
import type { ApiDatabase } from "../db/api-database.ts";
import type { LiveBus } from "./live-feed.ts";
import { LiveHub } from "./live-hub.ts";

describe("live stream", () => {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  let database: TestDatabase;
  let postgres: PostgresHandle<ApiDatabase>;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let testApp: TestApp;
  let liveBus: LiveBus;

  const open = (query: string, headers: Record<string, string> = {}) =>
    testApp.app.request(`/api/v1/stream${query}`, {
      headers: { Authorization: `Bearer ${TEST_READ_TOKEN}`, ...headers },
    });
  const sample = (second: number, host = "host-a") =>
    statsFixture({
      host,
      ts: `2026-11-21T10:00:${String(second).padStart(2, "0")}.000Z`,
      cpu_percent: second,
    });

  beforeAll(async () => {
    database = await createTestDatabase();
    postgres = openPostgres<ApiDatabase>({
      url: database.url,
      poolSize: 2,
      applicationName: "live-test",
      onIdleError: () => undefined,
    });
    nc = await connectTestNats();
    js = jetstream(nc);
    await ensureStreams(
      await jetstreamManager(nc),
      streamDefinitions(subjects, DEFAULT_STREAM_RETENTION),
      pino({ level: "silent" }),
    );
    testApp = await createTestApp({ postgres, nc, subjects });
    liveBus = { js, jsm: await jetstreamManager(nc), subjects };
  });

  afterAll(async () => {
    await testApp?.close();
    await postgres?.destroy();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    await database?.drop();
  });

  it("streams new messages and resumes after a reconnect with neither gap nor repeat", async () => {
    const first = sseReader(await open("?kinds=stats,events"));
    const ready = await first.next();
    expect(ready?.event).toBe("ready");
    await publishStats(js, subjects, sample(1));
    await publishEvent(js, subjects, eventFixture({ action: "start", ts: "2026-11-21T10:00:01.500Z" }));
    await publishStats(js, subjects, sample(2));
    const received = [await first.next(), await first.next()];
    // Kinds come from separate consumers: no order between a stats and an events message.
    expect(received.every((e) => e?.event === "stats" || e?.event === "events")).toBe(true);
    const lastId = received[1]?.id;
    expect(lastId).toMatch(/^stats\.\d+-events\.\d+$/);
    await first.cancel();

    // While disconnected, more happens.
    await publishStats(js, subjects, sample(3));
    await publishEvent(
      js,
      subjects,
      eventFixture({ action: "die", ts: "2026-11-21T10:00:03.500Z", exit_code: 0 }),
    );

    const second = sseReader(await open("?kinds=stats,events", { "Last-Event-ID": lastId ?? "" }));
    expect((await second.next())?.event).toBe("ready");
    const resumed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const event = await second.next();
      const payload = JSON.parse(event?.data ?? "{}") as { cpu_percent?: number; action?: string };
      resumed.push(event?.event === "stats" ? `stats:${payload.cpu_percent}` : `events:${payload.action}`);
    }
    // Whatever the first connection did not deliver, and only that.
    const before = received.map((e) => {
      const payload = JSON.parse(e?.data ?? "{}") as { cpu_percent?: number; action?: string };
      return e?.event === "stats" ? `stats:${payload.cpu_percent}` : `events:${payload.action}`;
    });
    expect([...before, ...resumed].sort()).toEqual([
      "events:die",
      "events:start",
      "stats:1",
      "stats:2",
      "stats:3",
    ]);
    expect(await second.next(300)).toBeUndefined();
    await second.cancel();
  });

  it("filters by host and container, and keeps an idle stream alive with comments", async () => {
    const reader = sseReader(await open("?kinds=stats&host=host-b"));
    expect((await reader.next())?.event).toBe("ready");
    await publishStats(js, subjects, sample(10, "host-a"));
    await publishStats(js, subjects, sample(11, "host-b"));
    const event = await reader.next();
    expect(JSON.parse(event?.data ?? "{}")).toMatchObject({ host: "host-b", cpu_percent: 11 });
    expect(await reader.next(1500)).toBeUndefined();
    expect(reader.comments).toContain(": keep-alive");
    await reader.cancel();
  });

  it("cuts a client off that falls behind, with its resume cursor", async () => {
    const slow = await createTestApp({
      postgres,
      nc,
      subjects,
      overrides: {
        live: {
          hub: new LiveHub({ bus: () => liveBus, maxStreams: 2 }),
          heartbeatMs: 60_000,
          maxBacklog: 5,
          maxBacklogBytes: 4 * 1024 * 1024,
          stallTimeoutMs: 15_000,
        },
      },
    });
    const response = await slow.app.request("/api/v1/stream?kinds=stats", {
      headers: { Authorization: `Bearer ${TEST_READ_TOKEN}` },
    });
    const reader = sseReader(response);
    expect((await reader.next())?.event).toBe("ready");
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => publishStats(js, subjects, sample(20 + (i % 30)), `burst-${i}`)),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const events: SseEvent[] = [];
    for (let event = await reader.next(2000); event; event = await reader.next(2000)) events.push(event);
    const last = events.at(-1);
    expect(last?.event).toBe("cutoff");
    expect(JSON.parse(last?.data ?? "{}")).toMatchObject({
      reason: "slow_client",
      resume_with: expect.stringMatching(/^stats\.\d+$/),
    });
    expect(events.length).toBeLessThan(41);
    await slow.close();
  });

  it("cuts off a client that takes nothing for the stall timeout, though few messages flow", async () => {
    const hub = new LiveHub({ bus: () => liveBus, maxStreams: 2 });
    const stalling = await createTestApp({
      postgres,
      nc,
      subjects,
      overrides: {
        live: {
          hub,
          heartbeatMs: 60_000,
          maxBacklog: 100,
          maxBacklogBytes: 1024 * 1024,
          stallTimeoutMs: 500,
        },
      },
    });
    const response = await stalling.app.request("/api/v1/stream?kinds=stats", {
      headers: { Authorization: `Bearer ${TEST_READ_TOKEN}` },
    });
    expect(hub.openStreams).toBe(1);
    // Far below the bounds; the client reads nothing, not even `ready`.
    for (let i = 0; i < 3; i++) await publishStats(js, subjects, sample(40 + i));
    const startedAt = Date.now();
    await eventually(() => (hub.openStreams === 0 ? true : undefined), {
      timeoutMs: 10_000,
      what: "the stalled stream closed",
    });
    // The stall timeout, then as long again to take the cutoff, with room for a busy machine.
    expect(Date.now() - startedAt).toBeLessThan(5000);
    await response.body?.cancel().catch(() => undefined);
    await stalling.close();
  });

  it("deletes its consumers from the bus when the stream ends", async () => {
    const jsm = await jetstreamManager(nc);
    const streams = (["telemetry", "events", "alerts"] as const).map((role) => streamName(subjects, role));
    const consumers = async () => {
      let count = 0;
      for (const stream of streams) count += (await jsm.consumers.list(stream).next()).length;
      return count;
    };
    const before = await consumers();
    const reader = sseReader(await open(""));
    expect((await reader.next())?.event).toBe("ready");
    // One ordered consumer per kind: stats and host on telemetry, events, alerts.
    expect(await consumers()).toBe(before + 4);
    await reader.cancel();
    await eventually(async () => ((await consumers()) === before ? true : undefined), {
      timeoutMs: 10_000,
      what: "the stream's consumers deleted",
    });
    expect(testApp.liveHub.openStreams).toBe(0);
  });

  it.each([
    ["?kinds=stats,logs", {}, "kinds"],
    ["?last_event_id=garbage", {}, "last_event_id"],
    ["", { "Last-Event-ID": "stats.1-oops" }, "last-event-id"],
  ])("answers %s %j with a 400", async (query, headers, field) => {
    const response = await open(query, headers);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.message).toContain(field);
  });

  it("requires a token", async () => {
    expect((await testApp.app.request("/api/v1/stream")).status).toBe(401);
  });
});
