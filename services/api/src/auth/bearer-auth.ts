// Request auth with two scopes: `read` for GET/HEAD, `admin` for everything (writes).
// A request proves itself with a bearer token (programs) or with the session cookie a browser
// got by signing in with one (session-cookie.ts); a write made with the cookie must also come
// from the api's own origin, so another site cannot make the browser write for it.
// 401 when there is no valid token or session, 403 when its scope is too small or a cookie
// write comes from elsewhere.
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../http/api-error.ts";
import type { AppEnv } from "../http/app-env.ts";
import { isSameOrigin, sessionCookieValue, verifySessionValue } from "./session-cookie.ts";
import { type Scope, scopedTokens, scopeNeededFor, scopeOfToken, type TokenLists } from "./token-scopes.ts";

export type { Scope } from "./token-scopes.ts";

export interface AuthOptions extends TokenLists {
  /** Paths served without a token (liveness and readiness probes). */
  publicPaths: readonly string[];
  /** How long a browser session lasts after signing in; default 12 hours. */
  sessionTtlMs?: number | undefined;
  /** The clock sessions expire by; tests pass their own. */
  now?: () => number;
}

export function bearerAuth(options: AuthOptions): MiddlewareHandler<AppEnv> {
  const tokens = scopedTokens(options);
  const publicPaths = new Set(options.publicPaths);
  const now = options.now ?? Date.now;
  return async function authenticate(c, next) {
    if (publicPaths.has(c.req.path)) return next();
    const needed: Scope = scopeNeededFor(c.req.method);
    const header = c.req.header("Authorization");
    const cookie = header === undefined ? sessionCookieValue(c) : undefined;
    if (cookie !== undefined) {
      const session = verifySessionValue(cookie, tokens, now());
      if (!session)
        throw new ApiError("unauthorized", "the session has expired or is not valid; sign in again");
      if (needed === "admin" && session.scope !== "admin") {
        throw new ApiError("forbidden", "this session may only read; sign in with an admin token to write");
      }
      if (needed === "admin" && !isSameOrigin(c)) {
        throw new ApiError("forbidden", "a write with a session cookie must come from the api's own origin");
      }
      return next();
    }
    const match = header ? /^Bearer ([^\s]+)$/i.exec(header.trim()) : null;
    const scope = match?.[1] ? scopeOfToken(match[1], tokens) : undefined;
    if (!scope) {
      c.header("WWW-Authenticate", 'Bearer realm="crowsnest"');
      throw new ApiError(
        "unauthorized",
        header ? "the bearer token is not valid" : "a bearer token (or a signed-in session) is required",
      );
    }
    if (needed === "admin" && scope !== "admin") {
      throw new ApiError("forbidden", "this token may only read; writing needs an admin token");
    }
    return next();
  };
}
