// Browser sessions on a bare app: the cookie's flags and expiry, what a read or admin session
// may do, and writes from another origin refused.
import { Hono } from "hono";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { AppEnv } from "../http/app-env.ts";
import { createErrorHandler } from "../http/error-handling.ts";
import { bearerAuth } from "./bearer-auth.ts";
import { SESSION_PATH, sessionRoutes } from "./session-routes.ts";

const READ = "read-token-aaaaaaaaaaaa";
const ADMIN = "admin-token-bbbbbbbbbbb";
const TTL_MS = 60 * 60 * 1000;
const ORIGIN = "http://dash.example:8080";

function app(
  options: {
    tokens?: { readTokens: string[]; adminTokens: string[] } | undefined;
    clock?: { nowMs: number };
  } = {},
) {
  const clock = options.clock ?? { nowMs: Date.parse("2026-12-05T10:00:00Z") };
  const tokens = "tokens" in options ? options.tokens : { readTokens: [READ], adminTokens: [ADMIN] };
  const now = () => clock.nowMs;
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("requestId", "req-1");
    await next();
  });
  if (tokens) app.use(bearerAuth({ ...tokens, publicPaths: [SESSION_PATH], sessionTtlMs: TTL_MS, now }));
  app.route("/api/v1", sessionRoutes({ tokens, sessionTtlMs: TTL_MS, now }));
  app.get("/api/v1/data", (c) => c.json({ data: 1 }));
  app.put("/api/v1/data", (c) => c.json({ written: true }));
  app.onError(createErrorHandler(pino({ level: "silent" })));
  return app;
}

type TestApp = ReturnType<typeof app>;

async function signIn(target: TestApp, token: string, headers: Record<string, string> = {}) {
  return target.request(`${ORIGIN}${SESSION_PATH}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Origin: ORIGIN, ...headers },
    body: JSON.stringify({ token }),
  });
}

/** The `name=value` part of the Set-Cookie, as the browser would send it back. */
function cookieOf(response: Response): string {
  const setCookie = response.headers.get("Set-Cookie");
  if (!setCookie) throw new Error("no Set-Cookie");
  return setCookie.split(";")[0] ?? "";
}

const withCookie = (cookie: string, method: string, headers: Record<string, string> = {}) => ({
  method,
  headers: { Cookie: cookie, ...headers },
});

describe("browser sessions", () => {
  it("answers a sign-in with an HttpOnly, SameSite=Strict cookie that expires with the session", async () => {
    const target = app();
    const response = await signIn(target, READ);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      auth_required: true,
      scope: "read",
      expires_at: "2026-12-05T11:00:00.000Z",
    });
    const setCookie = response.headers.get("Set-Cookie") ?? "";
    expect(setCookie).toMatch(/^crowsnest_session=[^;]+;/);
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toContain("Path=/");
    expect(setCookie).toContain("Max-Age=3600");
    expect(setCookie).toContain("Expires=Sat, 05 Dec 2026 11:00:00 GMT");
    // Plain HTTP: a Secure cookie would never come back.
    expect(setCookie).not.toContain("Secure");
    // The token itself is never in the cookie.
    expect(setCookie).not.toContain(READ);
  });

  it("marks the cookie Secure when the browser came over TLS, directly or through a proxy", async () => {
    const direct = await app().request(`https://dash.example${SESSION_PATH}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Origin: "https://dash.example" },
      body: JSON.stringify({ token: READ }),
    });
    expect(direct.headers.get("Set-Cookie")).toContain("Secure");
    const proxied = await signIn(app(), READ, { "X-Forwarded-Proto": "https" });
    expect(proxied.headers.get("Set-Cookie")).toContain("Secure");
  });

  it("lets a read session read, and refuses its writes", async () => {
    const target = app();
    const cookie = cookieOf(await signIn(target, READ));
    expect((await target.request(`${ORIGIN}/api/v1/data`, withCookie(cookie, "GET"))).status).toBe(200);
    const write = await target.request(
      `${ORIGIN}/api/v1/data`,
      withCookie(cookie, "PUT", { Origin: ORIGIN }),
    );
    expect(write.status).toBe(403);
    expect(await write.json()).toMatchObject({ error: { code: "forbidden" } });
  });

  it("lets an admin session write from the api's own origin only", async () => {
    const target = app();
    const cookie = cookieOf(await signIn(target, ADMIN));
    const put = (headers: Record<string, string>) =>
      target.request(`${ORIGIN}/api/v1/data`, withCookie(cookie, "PUT", headers));
    expect((await put({ Origin: ORIGIN, "Sec-Fetch-Site": "same-origin" })).status).toBe(200);
    for (const headers of [
      { Origin: "http://evil.example" },
      { Origin: "http://dash.example:8081" },
      { Origin: "null" },
      {},
      { Origin: ORIGIN, "Sec-Fetch-Site": "cross-site" },
    ]) {
      const response = await put(headers);
      expect(response.status, JSON.stringify(headers)).toBe(403);
      expect(await response.json()).toMatchObject({ error: { code: "forbidden" } });
    }
  });

  it("refuses a session once it has expired", async () => {
    const clock = { nowMs: Date.parse("2026-12-05T10:00:00Z") };
    const target = app({ clock });
    const cookie = cookieOf(await signIn(target, ADMIN));
    clock.nowMs += TTL_MS - 1000;
    expect((await target.request(`${ORIGIN}/api/v1/data`, withCookie(cookie, "GET"))).status).toBe(200);
    clock.nowMs += 1000;
    const expired = await target.request(`${ORIGIN}/api/v1/data`, withCookie(cookie, "GET"));
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({
      error: { code: "unauthorized", message: expect.stringContaining("sign in") },
    });
    const session = await target.request(`${ORIGIN}${SESSION_PATH}`, withCookie(cookie, "GET"));
    expect(await session.json()).toEqual({ auth_required: true, scope: null, expires_at: null });
  });

  it("refuses a forged or tampered cookie, and one whose token was removed", async () => {
    const target = app();
    const cookie = cookieOf(await signIn(target, READ));
    const upgraded = cookie.replace("=read.", "=admin.");
    expect(upgraded).not.toBe(cookie);
    const extended = cookie.replace(/=read\.(\d+)\./, (_, s: string) => `=read.${Number(s) + 3600}.`);
    for (const forged of [upgraded, extended, "crowsnest_session=admin.9999999999.AAAAAAAAAAAAAAAA.xx"]) {
      expect((await target.request(`${ORIGIN}/api/v1/data`, withCookie(forged, "GET"))).status, forged).toBe(
        401,
      );
    }
    const rotated = app({ tokens: { readTokens: ["another-read-token-cccc"], adminTokens: [ADMIN] } });
    expect((await rotated.request(`${ORIGIN}/api/v1/data`, withCookie(cookie, "GET"))).status).toBe(401);
  });

  it("refuses a wrong token and a sign-in from another origin", async () => {
    const target = app();
    const wrong = await signIn(target, `${READ}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("Set-Cookie")).toBeNull();
    const crossSite = await signIn(target, ADMIN, { Origin: "http://evil.example" });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get("Set-Cookie")).toBeNull();
  });

  it("says who the browser is, and clears the cookie on sign-out", async () => {
    const target = app();
    expect(await (await target.request(`${ORIGIN}${SESSION_PATH}`)).json()).toEqual({
      auth_required: true,
      scope: null,
      expires_at: null,
    });
    const cookie = cookieOf(await signIn(target, ADMIN));
    expect(
      await (await target.request(`${ORIGIN}${SESSION_PATH}`, withCookie(cookie, "GET"))).json(),
    ).toEqual({
      auth_required: true,
      scope: "admin",
      expires_at: "2026-12-05T11:00:00.000Z",
    });
    const signOut = await target.request(
      `${ORIGIN}${SESSION_PATH}`,
      withCookie(cookie, "DELETE", { Origin: ORIGIN }),
    );
    expect(signOut.status).toBe(204);
    const cleared = signOut.headers.get("Set-Cookie") ?? "";
    expect(cleared).toMatch(/^crowsnest_session=;/);
    expect(cleared).toContain("Max-Age=0");
  });

  it("needs no sign-in when auth is disabled", async () => {
    const target = app({ tokens: undefined });
    expect(await (await target.request(`${ORIGIN}${SESSION_PATH}`)).json()).toEqual({
      auth_required: false,
      scope: "admin",
      expires_at: null,
    });
    expect((await target.request(`${ORIGIN}/api/v1/data`)).status).toBe(200);
    expect((await signIn(target, ADMIN)).status).toBe(400);
  });
});
