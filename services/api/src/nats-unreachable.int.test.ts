// The api started while NATS does not answer, as it ships (its own process): it listens at
// once, /healthz says it is alive, /readyz says why it is not ready, and when a NATS server
// comes up on that address it connects, creates its streams and becomes ready.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createPrivateNatsServer,
  type PrivateNatsServer,
} from "../../../test/support/private-nats-server.ts";
import { type ServiceProcess, startService } from "../../../test/support/service-process.ts";
import { createTestDatabase, eventually, type TestDatabase } from "../../../test/support/test-env.ts";

const TOKEN = "unreachable-read-token-0123";

describe("the api while NATS is unreachable at start", () => {
  let database: TestDatabase;
  let api: ServiceProcess;
  let natsServer: PrivateNatsServer;
  let base: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    // Created, not started: nothing answers on its port yet.
    natsServer = await createPrivateNatsServer();
    api = startService("api", {
      CROWSNEST_DATABASE_URL: database.url,
      CROWSNEST_NATS_URL: natsServer.url,
      CROWSNEST_SUBJECT_PREFIX: "unreachable",
      CROWSNEST_API_PORT: "0",
      CROWSNEST_API_LISTEN_HOST: "127.0.0.1",
      CROWSNEST_API_READ_TOKENS: TOKEN,
    });
    const listening = await api.waitForLog((record) => record.msg === "api listening", 20_000);
    base = `http://127.0.0.1:${listening.port as number}`;
  });

  afterAll(async () => {
    await api?.stop();
    await natsServer?.dispose();
    await database?.drop();
  });

  const get = async (path: string) => {
    const response = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("listens at once: alive, not ready because of NATS, and 503 for what needs the bus", async () => {
    expect(await get("/healthz")).toEqual({ status: 200, body: { status: "ok" } });
    const ready = await get("/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ error: { code: "service_unavailable" } });
    expect(JSON.stringify(ready.body)).toMatch(/nats/i);
    expect(JSON.stringify(ready.body)).not.toMatch(/postgres/i);
    const stream = await get("/api/v1/stream");
    expect(stream.status).toBe(503);
    expect(stream.body).toMatchObject({ error: { code: "service_unavailable" } });
    expect((await get("/api/v1/agents")).status).toBe(200);
  });

  it("becomes ready once a NATS server answers on that address, with its streams created", async () => {
    await natsServer.start();
    await eventually(async () => ((await get("/readyz")).status === 200 ? true : undefined), {
      timeoutMs: 30_000,
      what: "/readyz to say ready",
    });
    await api.waitForLog((record) => record.msg === "api connected to the bus");
    const response = await fetch(`${base}/api/v1/stream?kinds=events`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });
});
