// Every parameter of every route in the OpenAPI document, sent malformed values: the answer is
// never a 5xx and never a stack trace; every 4xx carries the error envelope. Driven by the
// document itself, so a route added later is covered without touching this test.
import {
  createSubjects,
  DEFAULT_STREAM_RETENTION,
  ensureStreams,
  streamDefinitions,
} from "@crowsnest/shared";
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
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
import type { ApiDatabase } from "./db/api-database.ts";

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
}

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
      paths: Record<string, Record<string, { parameters?: Operation["parameters"] }>>;
    };
    operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method,
        path,
        parameters: operation.parameters ?? [],
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

  it("covers every documented route", () => {
    expect(operations.length).toBeGreaterThanOrEqual(8);
  });

  it("never answers a malformed parameter with a 5xx", async () => {
    const failures: string[] = [];
    for (const operation of operations) {
      for (const parameter of operation.parameters) {
        for (const value of MALFORMED) {
          let path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) =>
            name === parameter.name && parameter.in === "path" ? encodeURIComponent(value) : "1",
          );
          const headers: Record<string, string> = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
          if (parameter.in === "query") path += `?${parameter.name}=${encodeURIComponent(value)}`;
          if (parameter.in === "header") {
            // Header values cannot hold control characters at all; those are refused by the client itself.
            if (!/^[ -~]*$/.test(value)) continue;
            headers[parameter.name] = value;
          }
          const response = await testApp.app.request(path, {
            method: operation.method.toUpperCase(),
            headers,
          });
          const label = `${operation.method.toUpperCase()} ${path.slice(0, 120)} (${parameter.name}=${JSON.stringify(value.slice(0, 30))})`;
          const contentType = response.headers.get("Content-Type") ?? "";
          if (contentType.startsWith("text/event-stream")) {
            await response.body?.cancel();
            continue;
          }
          const text = await response.text();
          const allowedUnavailable =
            response.status === 503 && /"code":"(watcher_unavailable|service_unavailable)"/.test(text);
          if (response.status >= 500 && !allowedUnavailable)
            failures.push(`${label} → ${response.status} ${text.slice(0, 200)}`);
          if (response.status >= 400) {
            const body = JSON.parse(text) as {
              error?: { code?: string; message?: string; request_id?: string };
            };
            if (!body.error?.code || !body.error.request_id)
              failures.push(`${label} → ${response.status} without envelope`);
            if (/\bat .+\.(ts|js):\d+/.test(text)) failures.push(`${label} leaks a stack trace`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

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
});
