// The configured tokens and what each may do: `read` for GET/HEAD, `admin` for everything.
// Bearer tokens and browser sessions (session-cookie.ts) are both checked against this list.
// Tokens are compared as SHA-256 digests with timingSafeEqual against every configured token,
// so the time taken says nothing about how much of a guess was right or which token matched.
import { createHash, timingSafeEqual } from "node:crypto";

export type Scope = "read" | "admin";

export interface TokenLists {
  readTokens: readonly string[];
  adminTokens: readonly string[];
}

export interface ScopedToken {
  token: string;
  digest: Buffer;
  scope: Scope;
}

export const tokenDigest = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

export function scopedTokens(lists: TokenLists): ScopedToken[] {
  return [
    ...lists.readTokens.map((token) => ({ token, digest: tokenDigest(token), scope: "read" as const })),
    ...lists.adminTokens.map((token) => ({ token, digest: tokenDigest(token), scope: "admin" as const })),
  ];
}

/** The widest scope of a presented token, or undefined when it is none of them. */
export function scopeOfToken(presented: string, tokens: readonly ScopedToken[]): Scope | undefined {
  const candidate = tokenDigest(presented);
  let scope: Scope | undefined;
  for (const token of tokens) {
    // No early exit: every configured token is compared.
    if (timingSafeEqual(candidate, token.digest) && scope !== "admin") scope = token.scope;
  }
  return scope;
}

/** The scope a request needs: reading for GET and HEAD, admin for every write. */
export const scopeNeededFor = (method: string): Scope =>
  method === "GET" || method === "HEAD" ? "read" : "admin";
