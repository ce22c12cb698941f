// /api/v1/session: a browser signs in with a token (POST), asks who it is (GET) and signs out
// (DELETE). Public paths: they are how a browser without a session gets one.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError, errorEnvelope } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import {
  clearSessionCookie,
  DEFAULT_SESSION_TTL_MS,
  isSameOrigin,
  issueSessionValue,
  type Session,
  sessionCookieValue,
  setSessionCookie,
  verifySessionValue,
} from "./session-cookie.ts";
import { scopedTokens, scopeOfToken, type TokenLists } from "./token-scopes.ts";

export const SESSION_PATH = "/api/v1/session";

export interface SessionRouteOptions {
  /** Undefined when auth is disabled: every browser may do everything without signing in. */
  tokens: TokenLists | undefined;
  sessionTtlMs?: number | undefined;
  now?: (() => number) | undefined;
}

const sessionJson = z
  .object({
    auth_required: z
      .boolean()
      .openapi({ description: "False when the api serves everything without a token." }),
    scope: z
      .enum(["read", "admin"])
      .nullable()
      .openapi({ description: "What this browser may do; null: sign in." }),
    expires_at: z.string().nullable(),
  })
  .openapi("Session");

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: errorEnvelope } },
});

const signIn = createRoute({
  method: "post",
  path: "/session",
  summary: "Sign a browser in with a read or admin token: answers with an HttpOnly session cookie",
  security: [],
  request: {
    body: {
      required: true,
      content: {
        "application/json": { schema: z.object({ token: z.string().min(1).max(256) }).strict() },
      },
    },
  },
  responses: {
    200: {
      description: "Signed in; the cookie is set",
      content: { "application/json": { schema: sessionJson } },
    },
    400: errorResponse("The body is invalid, or auth is disabled"),
    401: errorResponse("The token is not valid"),
    403: errorResponse("The request came from another origin"),
  },
});

const whoAmI = createRoute({
  method: "get",
  path: "/session",
  summary: "Whether this browser must sign in, and what its session may do",
  security: [],
  responses: {
    200: { description: "The session", content: { "application/json": { schema: sessionJson } } },
  },
});

const signOut = createRoute({
  method: "delete",
  path: "/session",
  summary: "Sign out: the session cookie is deleted",
  security: [],
  responses: {
    204: { description: "Signed out" },
    403: errorResponse("The request came from another origin"),
  },
});

export function sessionRoutes(options: SessionRouteOptions): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });
  const tokens = options.tokens ? scopedTokens(options.tokens) : undefined;
  const ttlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  const now = options.now ?? Date.now;
  const describe = (session: Session | undefined) => ({
    auth_required: tokens !== undefined,
    scope: tokens === undefined ? ("admin" as const) : (session?.scope ?? null),
    expires_at: session ? new Date(session.expiresAtMs).toISOString() : null,
  });

  app.openapi(signIn, (c) => {
    if (!tokens)
      throw new ApiError("invalid_request", "auth is disabled on this api: there is nothing to sign in to");
    // A page of another site must not sign the browser in to a session of its choosing.
    if (!isSameOrigin(c)) throw new ApiError("forbidden", "sign in from the api's own origin");
    const presented = c.req.valid("json").token;
    const scope = scopeOfToken(presented, tokens);
    const token = tokens.find((candidate) => candidate.scope === scope && candidate.token === presented);
    if (!token) throw new ApiError("unauthorized", "the token is not valid");
    const nowMs = now();
    const session: Session = { scope: token.scope, expiresAtMs: nowMs + ttlMs };
    setSessionCookie(c, issueSessionValue(token, session.expiresAtMs), session, nowMs);
    return c.json(describe(session), 200);
  });

  app.openapi(whoAmI, (c) => {
    const value = sessionCookieValue(c);
    const session = tokens && value !== undefined ? verifySessionValue(value, tokens, now()) : undefined;
    return c.json(describe(session), 200);
  });

  app.openapi(signOut, (c) => {
    if (c.req.header("Origin") !== undefined && !isSameOrigin(c)) {
      throw new ApiError("forbidden", "sign out from the api's own origin");
    }
    clearSessionCookie(c);
    return c.body(null, 204);
  });
  return app;
}
