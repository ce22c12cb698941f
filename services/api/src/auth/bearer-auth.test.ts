// The auth middleware on a bare app: who gets in, with which status and error code.
import { Hono } from "hono";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { AppEnv } from "../http/app-env.ts";
import { createErrorHandler } from "../http/error-handling.ts";
import { bearerAuth } from "./bearer-auth.ts";

const READ = "read-token-aaaaaaaaaaaa";
const ADMIN = "admin-token-bbbbbbbbbbb";

function app() {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("requestId", "req-1");
    await next();
  });
  app.use(bearerAuth({ readTokens: [READ], adminTokens: [ADMIN], publicPaths: ["/healthz"] }));
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/data", (c) => c.json({ data: 1 }));
  app.put("/data", (c) => c.json({ written: true }));
  app.onError(createErrorHandler(pino({ level: "silent" })));
  return app;
}

const call = async (method: string, path: string, authorization?: string) => {
  const response = await app().request(path, {
    method,
    headers: authorization === undefined ? {} : { Authorization: authorization },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, response };
};

describe("bearerAuth", () => {
  it("lets a read token read and an admin token read and write", async () => {
    expect((await call("GET", "/data", `Bearer ${READ}`)).status).toBe(200);
    expect((await call("GET", "/data", `Bearer ${ADMIN}`)).status).toBe(200);
    expect((await call("PUT", "/data", `Bearer ${ADMIN}`)).status).toBe(200);
    expect((await call("GET", "/data", `bearer ${READ}`)).status).toBe(200);
  });

  it("answers 401 with a challenge when the token is missing or wrong", async () => {
    for (const header of [
      undefined,
      "",
      `Bearer ${READ}x`,
      `Basic ${READ}`,
      "Bearer",
      `Bearer ${READ} extra`,
    ]) {
      const { status, body, response } = await call("GET", "/data", header);
      expect(status, String(header)).toBe(401);
      expect(body).toEqual({
        error: { code: "unauthorized", message: expect.any(String), request_id: "req-1" },
      });
      expect(response.headers.get("WWW-Authenticate")).toBe('Bearer realm="crowsnest"');
    }
  });

  it("answers 403 when a read token tries to write", async () => {
    const { status, body } = await call("PUT", "/data", `Bearer ${READ}`);
    expect(status).toBe(403);
    expect(body).toMatchObject({ error: { code: "forbidden" } });
  });

  it("serves public paths without a token", async () => {
    expect((await call("GET", "/healthz")).status).toBe(200);
  });

  it("never echoes the presented token", async () => {
    const { body } = await call("GET", "/data", "Bearer not-the-right-secret-123");
    expect(JSON.stringify(body)).not.toContain("not-the-right-secret-123");
  });
});
