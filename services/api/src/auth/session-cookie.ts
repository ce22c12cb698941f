// Browser sessions: a browser signs in once with a read or admin token and then carries a
// session cookie instead (EventSource and a page's own requests cannot send a bearer header).
//
// The cookie is stateless: `<scope>.<expires at, epoch s>.<nonce>.<HMAC-SHA256>`, the MAC keyed
// with the token that signed in. So a session outlives an api restart and works on every api
// instance of the same configuration, and removing a token from the configuration ends every
// session it opened. Signing out deletes the cookie from the browser; a copy taken before
// stays valid until it expires, as a copied token would (hence the bounded lifetime).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Scope, ScopedToken } from "./token-scopes.ts";

export const SESSION_COOKIE = "crowsnest_session";
export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface Session {
  scope: Scope;
  expiresAtMs: number;
}

const COOKIE_PATTERN = /^(read|admin)\.(\d{1,12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;

function mac(token: string, payload: string): Buffer {
  return createHmac("sha256", token).update(`crowsnest-session.v1.${payload}`, "utf8").digest();
}

export function issueSessionValue(token: ScopedToken, expiresAtMs: number): string {
  const payload = `${token.scope}.${Math.floor(expiresAtMs / 1000)}.${randomBytes(12).toString("base64url")}`;
  return `${payload}.${mac(token.token, payload).toString("base64url")}`;
}

/** The session a cookie value stands for, or undefined when it is forged, from a removed token or expired. */
export function verifySessionValue(
  value: string,
  tokens: readonly ScopedToken[],
  nowMs: number,
): Session | undefined {
  const match = COOKIE_PATTERN.exec(value);
  if (!match) return undefined;
  const [, scope, expiresAtS, nonce, presentedMac] = match as unknown as [
    string,
    Scope,
    string,
    string,
    string,
  ];
  const expiresAtMs = Number(expiresAtS) * 1000;
  if (expiresAtMs <= nowMs) return undefined;
  const presented = Buffer.from(presentedMac, "base64url");
  const payload = `${scope}.${expiresAtS}.${nonce}`;
  let valid = false;
  for (const token of tokens) {
    // Every token of the scope is tried, without an early exit.
    if (token.scope === scope && timingSafeEqual(presented, mac(token.token, payload))) valid = true;
  }
  return valid ? { scope, expiresAtMs } : undefined;
}

/** Secure when the browser reached the api over TLS, directly or through a proxy that says so. */
function servedOverTls(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:" || c.req.header("X-Forwarded-Proto") === "https";
}

export function setSessionCookie(c: Context, value: string, session: Session, nowMs: number): void {
  setCookie(c, SESSION_COOKIE, value, {
    httpOnly: true,
    sameSite: "Strict",
    secure: servedOverTls(c),
    path: "/",
    maxAge: Math.floor((session.expiresAtMs - nowMs) / 1000),
    expires: new Date(session.expiresAtMs),
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, {
    path: "/",
    httpOnly: true,
    sameSite: "Strict",
    secure: servedOverTls(c),
  });
}

export function sessionCookieValue(c: Context): string | undefined {
  return getCookie(c, SESSION_COOKIE);
}

/**
 * Whether a request comes from a page of the api's own origin. Browsers send Origin with every
 * write (fetch and forms alike), so a cross-site page that got a write through with the
 * browser's cookie is recognised by it; Sec-Fetch-Site, where sent, must agree.
 */
export function isSameOrigin(c: Context): boolean {
  const origin = c.req.header("Origin");
  if (!origin) return false;
  const fetchSite = c.req.header("Sec-Fetch-Site");
  if (fetchSite !== undefined && fetchSite !== "same-origin") return false;
  try {
    return new URL(origin).host === (c.req.header("Host") ?? new URL(c.req.url).host);
  } catch {
    return false;
  }
}
