// The bus contract as the api serves it: the committed AsyncAPI document, every message's JSON
// Schema and the page, without a token (like the OpenAPI document), while data routes still
// need one.
import { readFileSync } from "node:fs";
import { createSubjects } from "@crowsnest/shared";
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_READ_TOKEN, type TestApp } from "../../../../test/support/api-app.ts";
import {
  connectTestNats,
  createTestDatabase,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../../test/support/test-env.ts";
import type { ApiDatabase } from "../db/api-database.ts";

const contractDir = new URL("../../../../contract/", import.meta.url);

describe("bus contract routes", () => {
  let database: TestDatabase;
  let postgres: PostgresHandle<ApiDatabase>;
  let nc: NatsConnection;
  let testApp: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    postgres = openPostgres<ApiDatabase>({
      url: database.url,
      poolSize: 2,
      applicationName: "api-contract-test",
      onIdleError: () => undefined,
    });
    nc = await connectTestNats();
    testApp = await createTestApp({ postgres, nc, subjects: createSubjects(testSubjectPrefix()) });
  });

  afterAll(async () => {
    await testApp?.close();
    await nc?.close();
    await postgres?.destroy();
    await database?.drop();
  });

  it("serves the committed AsyncAPI document without a token", async () => {
    const response = await testApp.app.request("/api/v1/asyncapi.json");
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe("application/json");
    expect(await response.text()).toBe(readFileSync(new URL("asyncapi.json", contractDir), "utf8"));
  });

  it("serves every message's JSON Schema, each under the $id the document gives it", async () => {
    const document = (await (await testApp.app.request("/api/v1/asyncapi.json")).json()) as {
      components: { schemas: Record<string, { $id: string }> };
    };
    const names = Object.keys(document.components.schemas);
    expect(names).toContain("stats");
    for (const name of names) {
      const response = await testApp.app.request(`/api/v1/schemas/${name}.json`);
      expect(response.status, name).toBe(200);
      expect(response.headers.get("Content-Type")).toBe("application/schema+json");
      const schema = (await response.json()) as { $schema: string; $id: string };
      expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
      expect(schema.$id).toBe(document.components.schemas[name]?.$id);
    }
  });

  it("serves the page, whose links resolve to the document and the schemas", async () => {
    const response = await testApp.app.request("/api/v1/bus-contract");
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain("crowsnest.v1.events.{host}.{runtime}.{kind}.{action}");
    expect(html).not.toMatch(/<script|https?:\/\//);
    const links = [...html.matchAll(/href="([^"#]+)"/g)].map((match) => match[1] ?? "");
    expect(links).toContain("asyncapi.json");
    for (const link of new Set(links)) {
      const resolved = new URL(link, "http://api/api/v1/bus-contract").pathname;
      expect((await testApp.app.request(resolved)).status, resolved).toBe(200);
    }
  });

  it("answers an unknown schema with the error envelope, and still guards data routes", async () => {
    const unknown = await testApp.app.request("/api/v1/schemas/nope.json", {
      headers: { Authorization: `Bearer ${TEST_READ_TOKEN}` },
    });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "not_found" } });
    expect((await testApp.app.request("/api/v1/schemas/nope.json")).status).toBe(401);
    expect((await testApp.app.request("/api/v1/containers")).status).toBe(401);
  });
});
