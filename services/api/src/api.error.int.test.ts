// Every route in the OpenAPI document, sent malformed values in each parameter (or its body, or
// an unexpected query parameter when it has neither): the answer is never a 5xx and never a
// stack trace; every 4xx carries the error envelope. Driven by the document itself, so a route
// added later is covered without touching this test; and the document lists exactly the routes
// the app serves (besides probes, metrics and the documents themselves), so none is missed.

import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import {
  createSubjects,
  DEFAULT_STREAM_RETENTION,
  ensureStreams,
  streamDefinitions,
} from "@crowsnest/shared";
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { sql } from "kysely";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../../../test/support/api-app.ts";
import { deleteTestStreams } from "../../../test/support/bus-fixtures.ts";
import {
  connectTestNats,
  createTestDatabase,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../test/support/test-env.ts";
import type { StoreDatabase } from "../../store/src/db/database.ts";
import { migrateToLatest } from "../../store/src/db/migrations.ts";
import { VIEW_PATHS } from "./dashboard/dashboard-routes.ts";
import type { ApiDatabase } from "./db/api-database.ts";
import { createApiServer } from "./http/api-server.ts";

const MALFORMED = [
  "",
  "-1",
  "0",
  "1.5",
  "1e309",
  "99999999999999999999999999",
  "abc",
  "' OR 1=1 --",
  "'; DROP TABLE containers; --",
  "%00",
  "\u0000",
  "<script>alert(1)</script>",
  "../../etc/passwd",
  "x".repeat(5000),
  "true",
  "[]",
  "{}",
  "NaN",
  "2026-13-45T99:99:99Z",
  "🐳",
];

interface Operation {
  method: string;
  path: string;
  parameters: { name: string; in: "path" | "query" | "header" }[];
  hasBody: boolean;
}

/**
 * Served but not part of the API's document: probes, metrics, the documents themselves, and the
 * dashboard's pages and assets (HTML and files for browsers, docs/dashboard.md).
 */
const UNDOCUMENTED_BY_DESIGN = [
  ...VIEW_PATHS.map((path) => `GET ${path}`),
  "GET /assets/:file",
  "GET /healthz",
  "GET /readyz",
  "GET /metrics",
  "GET /api/v1/openapi.json",
  "GET /api/v1/docs",
  "GET /api/v1/docs/assets/init.js",
  "GET /api/v1/docs/assets/:file",
  "GET /api/v1/asyncapi.json",
  "GET /api/v1/schemas/:file",
  "GET /api/v1/bus-contract",
];

const label = (operation: Pick<Operation, "method" | "path">) =>
  `${operation.method.toUpperCase()} ${operation.path}`;

describe("malformed input to every route", () => {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  let database: TestDatabase;
  let postgres: PostgresHandle<ApiDatabase>;
  let nc: NatsConnection;
  let testApp: TestApp;
  let operations: Operation[];

  beforeAll(async () => {
    database = await createTestDatabase();
    postgres = openPostgres<ApiDatabase>({
      url: database.url,
      poolSize: 4,
      applicationName: "error-test",
      onIdleError: () => undefined,
    });
    await migrateToLatest(
      postgres.db as unknown as Parameters<typeof migrateToLatest>[0] & { _: StoreDatabase },
    );
    nc = await connectTestNats();
    await ensureStreams(
      await jetstreamManager(nc),
      streamDefinitions(subjects, DEFAULT_STREAM_RETENTION),
      pino({ level: "silent" }),
    );
    testApp = await createTestApp({ postgres, nc, subjects });
    const document = (await (await testApp.app.request("/api/v1/openapi.json")).json()) as {
      paths: Record<string, Record<string, { parameters?: Operation["parameters"]; requestBody?: unknown }>>;
    };
    operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method,
        path,
        parameters: operation.parameters ?? [],
        hasBody: operation.requestBody !== undefined,
      })),
    );
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

  it("documents exactly the routes the app serves", () => {
    const served = new Set(
      testApp.app.routes.filter((route) => route.method !== "ALL").map((route) => label(route)),
    );
    for (const route of UNDOCUMENTED_BY_DESIGN) expect(served).toContain(route);
    const documented = operations.map((operation) => label(operation).replace(/\{(\w+)\}/g, ":$1"));
    expect(documented).toContain("GET /api/v1/containers");
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual(
      [...served].filter((route) => !UNDOCUMENTED_BY_DESIGN.includes(route)).sort(),
    );
  });

  it("never answers malformed input to any documented route with a 5xx", async () => {
    const failures: string[] = [];
    const exercised = new Set<string>();
    const probe = async (
      operation: Operation,
      malformed: { path: string; headers?: Record<string, string>; body?: string },
      what: string,
    ) => {
      exercised.add(label(operation));
      const response = await testApp.app.request(malformed.path, {
        method: operation.method.toUpperCase(),
        headers: {
          Authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
          ...(malformed.body === undefined ? {} : { "Content-Type": "application/json" }),
          ...malformed.headers,
        },
        ...(malformed.body === undefined ? {} : { body: malformed.body }),
      });
      const request = `${operation.method.toUpperCase()} ${malformed.path.slice(0, 120)} (${what})`;
      const contentType = response.headers.get("Content-Type") ?? "";
      if (contentType.startsWith("text/event-stream")) {
        await response.body?.cancel();
        return;
      }
      const text = await response.text();
      const allowedUnavailable =
        response.status === 503 && /"code":"(watcher_unavailable|service_unavailable)"/.test(text);
      if (response.status >= 500 && !allowedUnavailable)
        failures.push(`${request} → ${response.status} ${text.slice(0, 200)}`);
      if (response.status >= 400) {
        const body = JSON.parse(text) as {
          error?: { code?: string; message?: string; request_id?: string };
        };
        if (!body.error?.code || !body.error.request_id)
          failures.push(`${request} → ${response.status} without envelope`);
        if (/\bat .+\.(ts|js):\d+/.test(text)) failures.push(`${request} leaks a stack trace`);
      }
    };

    for (const operation of operations) {
      const withIds = operation.path.replace(/\{(\w+)\}/g, "1");
      for (const value of MALFORMED) {
        const shown = JSON.stringify(value.slice(0, 30));
        for (const parameter of operation.parameters) {
          let path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) =>
            name === parameter.name && parameter.in === "path" ? encodeURIComponent(value) : "1",
          );
          const headers: Record<string, string> = {};
          if (parameter.in === "query") path += `?${parameter.name}=${encodeURIComponent(value)}`;
          if (parameter.in === "header") {
            // Header values cannot hold control characters at all; those are refused by the client itself.
            if (!/^[ -~]*$/.test(value)) continue;
            headers[parameter.name] = value;
          }
          await probe(operation, { path, headers }, `${parameter.name}=${shown}`);
        }
        if (operation.hasBody) await probe(operation, { path: withIds, body: value }, `body ${shown}`);
        if (operation.parameters.length === 0 && !operation.hasBody) {
          await probe(
            operation,
            { path: `${withIds}?unexpected=${encodeURIComponent(value)}` },
            `unexpected=${shown}`,
          );
        }
      }
    }
    expect(failures).toEqual([]);
    expect([...exercised].sort()).toEqual(operations.map(label).sort());
    // About 3000 requests in sequence: minutes on a loaded 2-core machine, seconds on an idle one.
  }, 180_000);

  it("refuses an oversized body with 413 and the envelope", async () => {
    const response = await testApp.app.request("/api/v1/containers", {
      method: "POST",
      headers: {
        Authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
        "Content-Type": "application/json",
        "Content-Length": String(200_000),
      },
      body: "x".repeat(200_000),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: "payload_too_large" } });
  });

  const admin = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
  const envelopeOf = async (response: Response) =>
    (await response.json()) as { error: { code: string; message: string; request_id: string } };

  it("answers a write whose body is not declared JSON (what `curl -d` sends) with a clear 415", async () => {
    for (const headers of [
      { "Content-Type": "application/x-www-form-urlencoded" },
      { "Content-Type": "text/plain" },
    ]) {
      const response = await testApp.app.request("/api/v1/containers/1/alerts/config", {
        method: "PUT",
        headers: { ...admin, ...headers },
        body: "{}",
      });
      expect(response.status).toBe(415);
      const { error } = await envelopeOf(response);
      expect(error.code).toBe("unsupported_media_type");
      expect(error.message).toContain("Content-Type: application/json");
      expect(error.request_id).not.toBe("");
    }
  });

  it("answers a method a path does not have with 405, the envelope and Allow", async () => {
    const response = await testApp.app.request("/api/v1/alert-rules/1", { method: "PATCH", headers: admin });
    expect(response.status).toBe(405);
    expect(response.headers.get("Allow")).toBe("GET, HEAD, PUT, DELETE");
    expect((await envelopeOf(response)).error.code).toBe("method_not_allowed");
    // A path no method has stays a 404.
    expect(
      (await testApp.app.request("/api/v1/nothing-here", { method: "PATCH", headers: admin })).status,
    ).toBe(404);
  });

  it("answers malformed JSON with 400 and the envelope", async () => {
    const response = await testApp.app.request("/api/v1/alert-rules", {
      method: "POST",
      headers: { ...admin, "Content-Type": "application/json" },
      body: "{not json",
    });
    expect(response.status).toBe(400);
    expect((await envelopeOf(response)).error.code).toBe("invalid_request");
  });

  it("answers what Node and @hono/node-server refuse before Hono runs with the envelope too", async () => {
    const { server } = createApiServer({ fetch: testApp.app.fetch, logger: pino({ level: "silent" }) });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const raw = (request: string) => rawExchange(port, request);
      const cases: [string, string, number, string][] = [
        [
          "headers over Node's 16 KiB limit",
          `GET /api/v1/containers HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
          431,
          "request_header_fields_too_large",
        ],
        ["a request line that is not HTTP", "NOT HTTP AT ALL\r\n\r\n", 400, "invalid_request"],
        ["a request target that is not a path", "GET x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request"],
      ];
      for (const [what, request, status, code] of cases) {
        const answer = await raw(request);
        expect(answer.status, what).toBe(status);
        expect(answer.headers["content-type"], what).toContain("application/json");
        const body = JSON.parse(answer.body) as { error: { code: string; request_id: string } };
        expect(body.error.code, what).toBe(code);
        expect(body.error.request_id, what).toMatch(/^[0-9a-f-]{36}$/);
      }
      // Exactly what `curl -d '{}' -X PUT …/alerts/config` sends, over a real socket.
      const curl = await fetch(`http://127.0.0.1:${port}/api/v1/containers/1/alerts/config`, {
        method: "PUT",
        headers: { ...admin, "Content-Type": "application/x-www-form-urlencoded" },
        body: "{}",
      });
      expect(curl.status).toBe(415);
      expect((await envelopeOf(curl)).error.code).toBe("unsupported_media_type");
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  describe("timestamps Postgres cannot hold", () => {
    const ids = { container: 0, host: 0 };

    beforeAll(async () => {
      // A container and a host that exist, so every route gets as far as its query.
      const container = await sql<{ id: number }>`
        INSERT INTO containers (host, runtime, external_id, name, state)
        VALUES ('host-a', 'docker', ${"e".repeat(64)}, 'web', 'running') RETURNING id`.execute(postgres.db);
      const host = await sql<{ id: number }>`
        INSERT INTO hosts (name, first_seen, last_seen) VALUES ('host-a', now(), now()) RETURNING id`.execute(
        postgres.db,
      );
      ids.container = container.rows[0]?.id ?? 0;
      ids.host = host.rows[0]?.id ?? 0;
    });

    const cursor = (beforeTs: string) =>
      Buffer.from(JSON.stringify({ before_ts: beforeTs, before_id: 1 })).toString("base64url");
    const history = "from=0000-01-01T00:00:00Z&to=0000-01-02T00:00:00Z&step=1h";
    const cases: [string, (id: { container: number; host: number }) => string, string][] = [
      [
        "container history in year 0000",
        ({ container }) => `/containers/${container}/stats/history?${history}`,
        "from",
      ],
      ["host history in year 0000", ({ host }) => `/hosts/${host}/stats/history?${history}`, "from"],
      [
        "history from 0001-01-01 at +01:00 (year 0000 in UTC)",
        ({ container }) =>
          `/containers/${container}/stats/history?from=${encodeURIComponent("0001-01-01T00:00:00+01:00")}&to=0001-01-02T00:00:00Z&step=1h`,
        "from",
      ],
      [
        "history to year 10000 in UTC",
        ({ container }) =>
          `/containers/${container}/stats/history?from=9999-12-31T00:00:00Z&to=${encodeURIComponent("9999-12-31T23:30:00-01:00")}&step=1h`,
        "to",
      ],
      ["events from year 0000", () => "/events?from=0000-06-01T00:00:00Z", "from"],
      [
        "events with a cursor in year 0000",
        () => `/events?cursor=${cursor("0000-01-01T00:00:00Z")}`,
        "cursor",
      ],
      [
        "a container's events with a cursor in year 0000",
        ({ container }) => `/containers/${container}/events?cursor=${cursor("0000-01-01T00:00:00.000Z")}`,
        "cursor",
      ],
      [
        "alert history with a cursor in year 0000",
        () => `/alerts/history?cursor=${cursor("0000-01-01T00:00:00Z")}`,
        "cursor",
      ],
      [
        "a container's alert history with a cursor in year 0000",
        ({ container }) => `/containers/${container}/alerts/history?cursor=${cursor("0000-01-01T00:00:00Z")}`,
        "cursor",
      ],
      ["alert history to year 0000", () => "/alerts/history?to=0000-01-01T00:00:00Z", "to"],
    ];

    it.each(cases)("answers %s with a 400 naming the parameter", async (_, path, field) => {
      const response = await testApp.app.request(`/api/v1${path(ids)}`, {
        headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      });
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect({ status: response.status, code: body.error.code }).toEqual({
        status: 400,
        code: "invalid_request",
      });
      expect(body.error.message).toContain(field);
    });

    it("still serves the first and last instants it accepts", async () => {
      for (const path of [
        `/containers/${ids.container}/stats/history?from=0001-01-01T00:00:00Z&to=0001-01-02T00:00:00Z&step=1h`,
        `/containers/${ids.container}/stats/history?from=9999-12-31T00:00:00Z&to=9999-12-31T23:59:59.999Z&step=1h`,
        `/events?cursor=${cursor("0001-01-01T00:00:00Z")}`,
        `/alerts/history?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z`,
      ]) {
        const response = await testApp.app.request(`/api/v1${path}`, {
          headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        });
        expect(response.status, path).toBe(200);
      }
    });
  });
});

/** Sends raw bytes and parses the one response that comes back (the server closes after it). */
async function rawExchange(
  port: number,
  request: string,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const socket = connect({ port, host: "127.0.0.1" });
  socket.write(request);
  let text = "";
  socket.setEncoding("utf8");
  for await (const chunk of socket) {
    text += chunk as string;
    if (/\r\n\r\n/.test(text) && text.endsWith("}")) break;
  }
  socket.destroy();
  const [head = "", ...rest] = text.split("\r\n\r\n");
  const [statusLine = "", ...headerLines] = head.split("\r\n");
  const headers = Object.fromEntries(
    headerLines.map((line) => [
      line.slice(0, line.indexOf(":")).toLowerCase(),
      line.slice(line.indexOf(":") + 1).trim(),
    ]),
  );
  return { status: Number(statusLine.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
}
