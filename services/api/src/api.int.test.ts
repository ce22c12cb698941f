// The api's container routes through app.request(), against a Postgres filled by the real
// store process from messages published on the real bus.
import { codecs, createSubjects } from "@crowsnest/shared";
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_READ_TOKEN, type TestApp } from "../../../test/support/api-app.ts";
import {
  deleteTestStreams,
  eventFixture,
  FIXTURE_HOST,
  inventoryContainerFixture,
  publishEvent,
  publishInventory,
  publishStats,
  statsFixture,
} from "../../../test/support/bus-fixtures.ts";
import { type ServiceProcess, startService } from "../../../test/support/service-process.ts";
import { TEST_DAY, testTime } from "../../../test/support/test-clock.ts";
import {
  connectTestNats,
  createTestDatabase,
  eventually,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../test/support/test-env.ts";
import type { createApp } from "./app.ts";
import type { ApiDatabase } from "./db/api-database.ts";

const prefix = testSubjectPrefix();
const subjects = createSubjects(prefix);
const WEB = { external_id: "a".repeat(64), name: "web" };
const DB = { external_id: "b".repeat(64), name: "db" };
const IDLE = { external_id: "d".repeat(64), name: "idle" };

describe("container routes", () => {
  let database: TestDatabase;
  let store: ServiceProcess;
  let nc: NatsConnection;
  let postgres: PostgresHandle<ApiDatabase>;
  let app: ReturnType<typeof createApp>;
  let testApp: TestApp;
  const ids: Record<string, number> = {};

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const response = await app.request(path, {
      headers: { Authorization: `Bearer ${TEST_READ_TOKEN}`, ...headers },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown>, response };
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    store = startService("store", {
      CROWSNEST_DATABASE_URL: database.url,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_INGEST_BATCH_WAIT_MS: "20",
      CROWSNEST_HEARTBEAT_INTERVAL_MS: "1000",
      CROWSNEST_HOST_NAME: "store-host",
    });
    await store.waitForLog((record) => record.msg === "store started");
    nc = await connectTestNats();
    const js = jetstream(nc);
    await publishInventory(js, subjects, {
      v: 1,
      host: FIXTURE_HOST,
      runtime: "docker",
      ts: testTime("09:00:00.000"),
      reason: "startup",
      snapshot_id: "s1",
      part: 1,
      parts: 1,
      containers: [
        inventoryContainerFixture({
          ...WEB,
          labels: { tier: "front" },
          compose: { project: "shop", service: "web", number: 1 },
        }),
        inventoryContainerFixture({
          ...DB,
          image: "postgres:15",
          labels: { "io.kubernetes.pod.namespace": "shop" },
        }),
        inventoryContainerFixture({ ...IDLE, state: "exited", exit_code: 0 }),
      ],
    });
    for (let i = 0; i < 3; i++) {
      const ts = `${TEST_DAY}T10:00:${String(i * 10).padStart(2, "0")}.000Z`;
      await publishStats(
        js,
        subjects,
        statsFixture({ ts, container: WEB, cpu_percent: 10 + i, mem_used: 256, mem_limit: 1024 }),
      );
    }
    for (let i = 0; i < 5; i++) {
      await publishEvent(
        js,
        subjects,
        eventFixture({
          actor: DB,
          action: i % 2 === 0 ? "start" : "die",
          ts: `${TEST_DAY}T10:0${i}:00.000Z`,
        }),
      );
    }
    postgres = openPostgres<ApiDatabase>({
      url: database.url,
      poolSize: 4,
      applicationName: "api-test",
      onIdleError: () => undefined,
    });
    testApp = await createTestApp({ postgres, nc, subjects });
    app = testApp.app;
    await eventually(
      async () => {
        const count = await postgres.db
          .selectFrom("container_events")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow();
        const samples = await postgres.db
          .selectFrom("container_stats")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow();
        return Number(count.n) === 5 && Number(samples.n) === 3 ? true : undefined;
      },
      { timeoutMs: 15_000, what: "the store to write the fixtures" },
    );
    const rows = await postgres.db.selectFrom("containers").select(["id", "name"]).execute();
    for (const row of rows) ids[row.name] = row.id;
  });

  afterAll(async () => {
    await testApp?.close();
    await postgres?.destroy();
    await store?.stop();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    await database?.drop();
  });

  it("lists containers with their metadata", async () => {
    const { status, body } = await get("/api/v1/containers");
    expect(status).toBe(200);
    const data = body.data as { name: string; state: string; compose: unknown; labels: unknown }[];
    expect(data.map((c) => c.name).sort()).toEqual(["db", "idle", "web"]);
    expect(data.find((c) => c.name === "web")).toMatchObject({
      host: FIXTURE_HOST,
      runtime: "docker",
      external_id: WEB.external_id,
      state: "running",
      labels: { tier: "front" },
      compose: { project: "shop", service: "web" },
    });
    expect(body.next_cursor).toBeNull();
  });

  it("filters by state, name and host", async () => {
    expect(
      ((await get("/api/v1/containers?state=exited")).body.data as { name: string }[]).map((c) => c.name),
    ).toEqual(["idle"]);
    expect(
      ((await get("/api/v1/containers?name=WE")).body.data as { name: string }[]).map((c) => c.name),
    ).toEqual(["web"]);
    expect((await get("/api/v1/containers?host=elsewhere")).body.data).toEqual([]);
  });

  it("filters by Kubernetes namespace and label selector", async () => {
    const names = async (query: string) =>
      ((await get(`/api/v1/containers?${query}`)).body.data as { name: string }[]).map((c) => c.name);
    expect(await names("namespace=shop")).toEqual(["db"]);
    expect(await names("label=tier=front")).toEqual(["web"]);
    expect((await names("label=tier!=front")).sort()).toEqual(["db", "idle"]);
  });

  it("answers CORS preflights only for configured origins, and sends no CORS headers when it is off", async () => {
    const withCors = await createTestApp({
      postgres,
      nc,
      subjects,
      overrides: { corsOrigins: ["https://grafana.example.com"] },
    });
    const preflight = (app: ReturnType<typeof createApp>, origin: string) =>
      app.request("/api/v1/containers", {
        method: "OPTIONS",
        headers: {
          Origin: origin,
          "Access-Control-Request-Method": "GET",
          "Access-Control-Request-Headers": "authorization",
        },
      });
    const allowed = await preflight(withCors.app, "https://grafana.example.com");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("Access-Control-Allow-Origin")).toBe("https://grafana.example.com");
    expect(allowed.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("authorization");
    const other = await preflight(withCors.app, "https://evil.example.com");
    expect(other.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const off = await preflight(app, "https://grafana.example.com");
    expect(off.headers.get("Access-Control-Allow-Origin")).toBeNull();
    await withCors.close();
  });

  it("pages with an opaque cursor, without gaps or repeats", async () => {
    const seen: string[] = [];
    let path = "/api/v1/containers?limit=1";
    for (let page = 0; page < 5; page++) {
      const { body } = await get(path);
      seen.push(...(body.data as { name: string }[]).map((c) => c.name));
      if (body.next_cursor === null) break;
      path = `/api/v1/containers?limit=1&cursor=${body.next_cursor as string}`;
    }
    expect(seen.sort()).toEqual(["db", "idle", "web"]);
  });

  it("returns one container, and 404 for an unknown id", async () => {
    const { status, body } = await get(`/api/v1/containers/${ids.web}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: ids.web, name: "web" });
    const missing = await get("/api/v1/containers/987654321");
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({
      error: { code: "not_found", message: "no container with id 987654321" },
    });
  });

  it("returns the newest sample with mem_percent", async () => {
    const { status, body } = await get(`/api/v1/containers/${ids.web}/stats/current`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      container_id: ids.web,
      ts: testTime("10:00:20.000"),
      cpu_percent: 12,
      mem_used: 256,
      mem_limit: 1024,
      mem_percent: 25,
      net_rx_bytes: null,
    });
  });

  it("counts each container's restarts since a time: a start after a die, the first start not", async () => {
    // db: start 10:00, die 10:01, start 10:02, die 10:03, start 10:04.
    const since = `${TEST_DAY}T00:00:00.000Z`;
    const list = await get(`/api/v1/containers?restarts_since=${since}`);
    expect(list.status).toBe(200);
    const restarts = Object.fromEntries(
      (list.body.data as { name: string; restarts: unknown }[]).map((c) => [c.name, c.restarts]),
    );
    expect(restarts).toEqual({
      db: { count: 2, since },
      web: { count: 0, since },
      idle: { count: 0, since },
    });
    const late = await get(`/api/v1/containers/${ids.db}?restarts_since=${TEST_DAY}T10:03:00Z`);
    expect(late.body.restarts).toEqual({ count: 1, since: `${TEST_DAY}T10:03:00.000Z` });
    // Default: the last 24 hours.
    const recent = await get(`/api/v1/containers/${ids.db}`);
    const defaultSince = Date.parse((recent.body.restarts as { since: string }).since);
    expect(Math.abs(defaultSince - (Date.now() - 24 * 3600_000))).toBeLessThan(60_000);
    const invalid = await get("/api/v1/containers?restarts_since=yesterday");
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ error: { code: "invalid_request" } });
  });

  it("says when a container has no samples yet", async () => {
    const { status, body } = await get(`/api/v1/containers/${ids.idle}/stats/current`);
    expect(status).toBe(404);
    expect(body).toMatchObject({ error: { code: "no_data" } });
  });

  it("lists events newest first, paged and filtered", async () => {
    const first = await get(`/api/v1/containers/${ids.db}/events?limit=2`);
    expect(first.status).toBe(200);
    const firstPage = first.body.data as { action: string; ts: string }[];
    expect(firstPage.map((e) => e.ts)).toEqual([testTime("10:04:00.000"), testTime("10:03:00.000")]);
    const rest: { ts: string }[] = [];
    let cursor = first.body.next_cursor as string | null;
    while (cursor) {
      const page = await get(`/api/v1/containers/${ids.db}/events?limit=2&cursor=${cursor}`);
      rest.push(...(page.body.data as { ts: string }[]));
      cursor = page.body.next_cursor as string | null;
    }
    expect(rest.map((e) => e.ts)).toEqual([
      testTime("10:02:00.000"),
      testTime("10:01:00.000"),
      testTime("10:00:00.000"),
    ]);
    const dies = await get(`/api/v1/containers/${ids.db}/events?action=die`);
    expect((dies.body.data as { action: string }[]).map((e) => e.action)).toEqual(["die", "die"]);
  });

  it("lists events of every container, filtered by host, container, action and time", async () => {
    const all = await get("/api/v1/events");
    expect(all.status).toBe(200);
    expect((all.body.data as unknown[]).length).toBe(5);
    const window = await get(`/api/v1/events?from=${TEST_DAY}T10:01:00Z&to=${TEST_DAY}T10:03:00.000Z`);
    expect((window.body.data as { ts: string }[]).map((e) => e.ts)).toEqual([
      testTime("10:02:00.000"),
      testTime("10:01:00.000"),
    ]);
    const starts = await get(`/api/v1/events?container_id=${ids.db}&action=start&kind=container`);
    expect((starts.body.data as unknown[]).length).toBe(3);
    expect((await get(`/api/v1/events?host=${FIXTURE_HOST}&limit=1`)).body.next_cursor).toEqual(
      expect.any(String),
    );
    expect((await get("/api/v1/events?host=elsewhere")).body.data).toEqual([]);
  });

  it.each([
    ["/api/v1/events?from=yesterday", "from"],
    ["/api/v1/events?to=2026-13-01T00:00:00Z", "to"],
    ["/api/v1/events?kind=volume", "kind"],
    ["/api/v1/events?container_id=%00", "container_id"],
    ["/api/v1/containers/1/logs?tail=5001", "tail"],
    ["/api/v1/containers/1/logs?tail=-1", "tail"],
    ["/api/v1/containers/1/logs?since=today", "since"],
    ["/api/v1/containers/1/logs?stream=stdin", "stream"],
    ["/api/v1/containers/1/logs?timestamps=1", "timestamps"],
    ["/api/v1/containers/%01", "id"],
    [`/api/v1/containers/${"x".repeat(513)}/stats/current`, "id"],
    ["/api/v1/containers?limit=0", "limit"],
    ["/api/v1/containers?limit=501", "limit"],
    ["/api/v1/containers?limit=-5", "limit"],
    ["/api/v1/containers?limit=ten", "limit"],
    ["/api/v1/containers?state=sleeping", "state"],
    ["/api/v1/containers?runtime=lxc", "runtime"],
    ["/api/v1/containers?include_gone=maybe", "include_gone"],
    ["/api/v1/containers?cursor=not-a-cursor", "cursor"],
    [`/api/v1/containers?cursor=${Buffer.from('{"after_id":"x"}').toString("base64url")}`, "cursor"],
    [`/api/v1/containers?name=${"x".repeat(300)}`, "name"],
    ["/api/v1/containers/1/events?action=DROP%20TABLE", "action"],
    ["/api/v1/containers/1/events?cursor=%00%01", "cursor"],
  ])("answers %s with a 400 naming %s", async (path, field) => {
    const { status, body } = await get(path);
    expect(status).toBe(400);
    const error = (body as { error: { code: string; message: string; request_id: string } }).error;
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain(field);
    expect(error.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  // Container references are names and runtime ids too (containers/container-ref.int.test.ts):
  // these fit no container, and are never mistaken for one or for SQL.
  it.each([
    "/api/v1/containers/abc",
    "/api/v1/containers/0",
    "/api/v1/containers/-1",
    "/api/v1/containers/1e3",
    "/api/v1/containers/01",
    "/api/v1/containers/99999999999999999999",
    "/api/v1/containers/1%27%20OR%201=1/stats/current",
    "/api/v1/events?container_id=x",
  ])("answers %s, a reference that fits no container, with a 404", async (path) => {
    const { status, body } = await get(path);
    expect(status).toBe(404);
    expect(body).toMatchObject({ error: { code: "not_found" } });
  });

  it("answers unknown routes with the error envelope", async () => {
    const { status, body } = await get("/api/v1/nothing-here");
    expect(status).toBe(404);
    expect(body).toMatchObject({ error: { code: "not_found" } });
  });

  it("echoes a safe request id and replaces an unsafe one", async () => {
    const echoed = await get("/api/v1/containers/abc", { "X-Request-Id": "trace-42" });
    expect(echoed.response.headers.get("X-Request-Id")).toBe("trace-42");
    expect((echoed.body as { error: { request_id: string } }).error.request_id).toBe("trace-42");
    const replaced = await get("/api/v1/containers/abc", { "X-Request-Id": "evil\u00e9 id" });
    expect((replaced.body as { error: { request_id: string } }).error.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("requires the token on data routes, and serves the OpenAPI document and docs page without one", async () => {
    expect((await app.request("/api/v1/containers")).status).toBe(401);
    const spec = await app.request("/api/v1/openapi.json");
    expect(spec.status).toBe(200);
    const document = (await spec.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(["/api/v1/containers", "/api/v1/containers/{id}/stats/current"]),
    );
    const docs = await app.request("/api/v1/docs");
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('<script src="/api/v1/docs/assets/init.js">');
    expect(await (await app.request("/api/v1/docs/assets/init.js")).text()).toContain(
      '"/api/v1/openapi.json"',
    );
    expect((await app.request("/api/v1/docs/assets/swagger-ui-bundle.js")).status).toBe(200);
  });

  it("lists the services heard from, and ignores a malformed or outdated heartbeat", async () => {
    const store = await eventually(
      async () => {
        const { body } = await get("/api/v1/agents");
        return (body.data as { host: string; service: string }[]).find((a) => a.service === "store");
      },
      { timeoutMs: 5000, what: "the store's heartbeat" },
    );
    expect(store).toMatchObject({
      host: "store-host",
      service: "store",
      connected: true,
      stale: false,
      version: "0.1.0",
    });
    const subject = subjects.agent("ghost", "collector");
    nc.publish(subject, new TextEncoder().encode('{"v":1,"host":"ghost"}'));
    const heartbeat = (ts: string) =>
      codecs.heartbeat.encode({
        v: 1,
        host: "ghost",
        service: "collector",
        version: "9.9.9",
        runtime: "docker",
        connected: true,
        started_at: "2026-01-01T00:00:00.000Z",
        ts,
        interval_ms: 1000,
      });
    const newer = heartbeat(testTime("10:00:02.000"));
    const older = heartbeat(testTime("10:00:01.000"));
    if (!newer.ok || !older.ok) throw new Error("fixture heartbeat is invalid");
    nc.publish(subject, newer.data);
    nc.publish(subject, older.data);
    const ghost = await eventually(
      async () => {
        const { body } = await get("/api/v1/agents");
        return (body.data as { host: string; ts: string }[]).find((a) => a.host === "ghost");
      },
      { timeoutMs: 5000, what: "the ghost collector" },
    );
    expect(ghost.ts).toBe(testTime("10:00:02.000"));
  });

  it("shows the runtime API version an agent's heartbeat carries", async () => {
    const encoded = codecs.heartbeat.encode({
      v: 1,
      host: "cri-node",
      service: "watcher",
      version: "9.9.9",
      runtime: "cri",
      runtime_api_version: "v1alpha2",
      connected: true,
      started_at: "2026-01-01T00:00:00.000Z",
      ts: testTime("10:00:03.000"),
      interval_ms: 1000,
    });
    if (!encoded.ok) throw new Error(encoded.detail);
    nc.publish(subjects.agent("cri-node", "watcher"), encoded.data);
    const agent = await eventually(
      async () => {
        const { body } = await get("/api/v1/agents");
        return (body.data as { host: string }[]).find((a) => a.host === "cri-node");
      },
      { timeoutMs: 5000, what: "the cri-node watcher" },
    );
    expect(agent).toMatchObject({ runtime: "cri", runtime_api_version: "v1alpha2" });
    const { body } = await get("/api/v1/agents");
    const store = (body.data as { service: string }[]).find((a) => a.service === "store");
    // A service that names no runtime API version has no such field (not null, not empty).
    expect(store).toBeDefined();
    expect(store !== undefined && "runtime_api_version" in store).toBe(false);
  });

  it("answers 503 watcher_unavailable for logs when the host's watcher is not running", async () => {
    const started = Date.now();
    const { status, body } = await get(`/api/v1/containers/${ids.web}/logs?tail=10`);
    expect(status).toBe(503);
    expect(body).toMatchObject({ error: { code: "watcher_unavailable" } });
    expect((body as { error: { message: string } }).error.message).toContain(FIXTURE_HOST);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await get("/api/v1/containers/987654321/logs")).status).toBe(404);
  });

  it("asks the host's watcher for a Kubernetes container's previous instance with previous=true", async () => {
    const reply = codecs.logsReply.encode({
      v: 1,
      ok: true,
      seq: 0,
      done: true,
      lines: [{ stream: "stdout", ts: null, text: "before the crash" }],
    });
    if (!reply.ok) throw new Error(reply.detail);
    const received: unknown[] = [];
    // Stands in for the host's watcher: records the request and answers it in one chunk.
    const watcher = nc.subscribe(subjects.rpc(FIXTURE_HOST, "logs"), {
      callback: (_error, message) => {
        received.push(message.json());
        message.respond(reply.data);
      },
    });
    try {
      const { status, body } = await get(`/api/v1/containers/${ids.web}/logs?previous=true&tail=3`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ lines: [{ stream: "stdout", text: "before the crash" }] });
      expect(received).toEqual([expect.objectContaining({ previous: true, tail: 3 })]);
      expect((await get(`/api/v1/containers/${ids.web}/logs?previous=maybe`)).status).toBe(400);
    } finally {
      watcher.unsubscribe();
    }
  });

  it("answers 501 logs_unavailable, with the watcher's reason, for a runtime that keeps no logs", async () => {
    const reply = codecs.logsReply.encode({
      v: 1,
      ok: false,
      error: { code: "logs_unavailable", message: "containerd keeps no logs of its own" },
    });
    if (!reply.ok) throw new Error(reply.detail);
    // Stands in for a containerd host's watcher.
    const watcher = nc.subscribe(subjects.rpc(FIXTURE_HOST, "logs"), {
      callback: (_error, message) => {
        message.respond(reply.data);
      },
    });
    try {
      const { status, body } = await get(`/api/v1/containers/${ids.web}/logs?tail=10`);
      expect(status).toBe(501);
      expect(body).toMatchObject({
        error: { code: "logs_unavailable", message: "containerd keeps no logs of its own" },
      });
    } finally {
      watcher.unsubscribe();
    }
  });

  it("inspects a container through its host's watcher, and says so when the watcher does not answer", async () => {
    const down = await get(`/api/v1/containers/${ids.web}/inspect`);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ error: { code: "watcher_unavailable" } });
    const live = inventoryContainerFixture({ ...WEB, restart_count: 4, pid: 4242 });
    const received: unknown[] = [];
    // Stands in for the host's watcher: knows web, not idle.
    const watcher = nc.subscribe(subjects.rpc(FIXTURE_HOST, "inspect"), {
      callback: (_error, message) => {
        const request = message.json<{ container: string }>();
        received.push(request);
        const reply =
          request.container === WEB.external_id
            ? codecs.inspectReply.encode({ v: 1, ok: true, container: live })
            : codecs.inspectReply.encode({
                v: 1,
                ok: false,
                error: { code: "not_found", message: "no such container" },
              });
        if (!reply.ok) throw new Error(reply.detail);
        message.respond(reply.data);
      },
    });
    try {
      const { status, body } = await get(`/api/v1/containers/web/inspect`);
      expect(status).toBe(200);
      expect(body).toMatchObject({
        container_id: ids.web,
        host: FIXTURE_HOST,
        container: { external_id: WEB.external_id, restart_count: 4, pid: 4242, state: "running" },
      });
      expect(Math.abs(Date.parse(body.inspected_at as string) - Date.now())).toBeLessThan(60_000);
      expect(received).toEqual([{ v: 1, container: WEB.external_id }]);
      const gone = await get(`/api/v1/containers/${ids.idle}/inspect`);
      expect(gone.status).toBe(404);
      expect(gone.body).toMatchObject({ error: { code: "not_found", message: "no such container" } });
      expect((await get("/api/v1/containers/987654321/inspect")).status).toBe(404);
    } finally {
      watcher.unsubscribe();
    }
    const openapi = await get("/api/v1/openapi.json");
    const paths = openapi.body.paths as Record<string, unknown>;
    expect(JSON.stringify(paths["/api/v1/containers/{id}/inspect"])).toContain("restart_count");
  });

  it("exports fresh samples and its own request metrics at /metrics, with a token only", async () => {
    const now = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
    await publishStats(
      jetstream(nc),
      subjects,
      statsFixture({ ts: now, container: WEB, cpu_percent: 42.5, mem_used: 512, mem_limit: 1024 }),
    );
    const text = await eventually(
      async () => {
        const response = await app.request("/metrics", {
          headers: { Authorization: `Bearer ${TEST_READ_TOKEN}` },
        });
        const body = await response.text();
        return body.includes("crowsnest_container_cpu_percent{") ? body : undefined;
      },
      { timeoutMs: 10_000, what: "the fresh sample in /metrics" },
    );
    const labels = `host="${FIXTURE_HOST}",container="web",container_id="${ids.web}"`;
    expect(text).toContain(`crowsnest_container_cpu_percent{${labels}} 42.5`);
    expect(text).toContain(`crowsnest_container_memory_limit_bytes{${labels}} 1024`);
    // The stale samples of other containers (from 10:00) and network (null) are not exported.
    expect(text).not.toContain('container="db"');
    expect(text).not.toContain(`crowsnest_container_network_receive_bytes_per_second{${labels}}`);
    expect(text).toMatch(
      /crowsnest_api_requests_total\{method="GET",route="\/api\/v1\/containers",status="200"\} \d+/,
    );
    expect(text).toContain('crowsnest_agent_up{host="store-host",service="store"} 1');
    expect((await app.request("/metrics")).status).toBe(401);
  });

  it("reports liveness and readiness", async () => {
    expect((await get("/healthz")).body).toEqual({ status: "ok" });
    expect((await get("/readyz")).status).toBe(200);
    const notReady = await createTestApp({
      postgres,
      nc,
      subjects,
      overrides: { readiness: { natsConnected: () => false } },
    });
    const response = await notReady.app.request("/readyz");
    await notReady.close();
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: "service_unavailable" } });
  });
});
