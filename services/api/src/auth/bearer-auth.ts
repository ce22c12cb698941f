// Bearer-token auth with two scopes: `read` for GET/HEAD, `admin` for everything (writes).
// 401 when there is no valid token, 403 when the token's scope is too small. Tokens are
// compared as SHA-256 digests with timingSafeEqual against every configured token, so the
// time taken says nothing about how much of a guess was right or which token matched.
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../http/api-error.ts";
import type { AppEnv } from "../http/app-env.ts";

export type Scope = "read" | "admin";

export interface AuthOptions {
  readTokens: readonly string[];
  adminTokens: readonly string[];
  /** Paths served without a token (liveness and readiness probes). */
  publicPaths: readonly string[];
}

const digest = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

function matchingScope(presented: string, tokens: { digest: Buffer; scope: Scope }[]): Scope | undefined {
  const candidate = digest(presented);
  let scope: Scope | undefined;
  for (const token of tokens) {
    // No early exit: every configured token is compared.
    if (timingSafeEqual(candidate, token.digest) && scope !== "admin") scope = token.scope;
  }
  return scope;
}

export function bearerAuth(options: AuthOptions): MiddlewareHandler<AppEnv> {
  const tokens = [
    ...options.readTokens.map((token) => ({ digest: digest(token), scope: "read" as const })),
    ...options.adminTokens.map((token) => ({ digest: digest(token), scope: "admin" as const })),
  ];
  const publicPaths = new Set(options.publicPaths);
  return async function authenticate(c, next) {
    if (publicPaths.has(c.req.path)) return next();
    const header = c.req.header("Authorization");
    const match = header ? /^Bearer ([^\s]+)$/i.exec(header.trim()) : null;
    const scope = match?.[1] ? matchingScope(match[1], tokens) : undefined;
    if (!scope) {
      c.header("WWW-Authenticate", 'Bearer realm="crowsnest"');
      throw new ApiError(
        "unauthorized",
        header ? "the bearer token is not valid" : "a bearer token is required",
      );
    }
    const needed: Scope = c.req.method === "GET" || c.req.method === "HEAD" ? "read" : "admin";
    if (needed === "admin" && scope !== "admin") {
      throw new ApiError("forbidden", "this token may only read; writing needs an admin token");
    }
    return next();
  };
}
