// The web dashboard (packages/dashboard), served at `/` from its built files: index.html for
// every view's path (the views keep their state in the URL, so a reload or a deep link lands on
// the same page), never cached, and the assets under content-hashed names, cached for a year.
// Everything is read into memory at start (the whole dashboard is a few hundred KB) with a
// gzip copy for browsers that take it. A strict Content-Security-Policy allows nothing but the
// api's own scripts, styles and requests: no inline script, no other origin.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { Hono } from "hono";
import type { AppEnv } from "../http/app-env.ts";

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "Content-Security-Policy": DASHBOARD_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

/** The dashboard's views; index.html answers each, and the page picks the view from the path. */
export const VIEW_PATHS = ["/", "/sign-in", "/alerts", "/top", "/events", "/agents", "/containers/:id"];

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".map": "application/json",
  ".html": "text/html; charset=utf-8",
};

interface StaticFile {
  body: Uint8Array<ArrayBuffer>;
  gzipped: Uint8Array<ArrayBuffer>;
  type: string;
}

function load(path: string): StaticFile {
  const body = new Uint8Array(readFileSync(path));
  return {
    body,
    gzipped: new Uint8Array(gzipSync(body, { level: 9 })),
    type: CONTENT_TYPES[extname(path)] ?? "application/octet-stream",
  };
}

/** Whether a path is one the dashboard serves (publicly: the page holds no data, the API does). */
export function isDashboardPath(path: string): boolean {
  return (
    path === "/" ||
    path.startsWith("/assets/") ||
    VIEW_PATHS.includes(path) ||
    /^\/containers\/[^/]+$/.test(path)
  );
}

/** `dir`: the dashboard's build output (index.html and assets/); undefined or unbuilt: a page saying so. */
export function dashboardRoutes(dir: string | undefined): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const built = dir !== undefined && existsSync(join(dir, "index.html"));
  const index = built ? load(join(dir, "index.html")) : undefined;
  const assets = new Map<string, StaticFile>();
  if (built && existsSync(join(dir, "assets"))) {
    for (const name of readdirSync(join(dir, "assets"))) assets.set(name, load(join(dir, "assets", name)));
  }

  const send = (accepts: string | undefined, file: StaticFile, cacheControl: string): Response => {
    const gzip = /\bgzip\b/.test(accepts ?? "");
    return new Response(gzip ? file.gzipped : file.body, {
      status: 200,
      headers: {
        ...SECURITY_HEADERS,
        "Content-Type": file.type,
        "Cache-Control": cacheControl,
        Vary: "Accept-Encoding",
        ...(gzip ? { "Content-Encoding": "gzip" } : {}),
      },
    });
  };

  for (const path of VIEW_PATHS) {
    app.get(path, (c) => {
      if (!index) {
        return c.text(
          "The dashboard is not built into this api: `pnpm build` builds it (packages/dashboard).",
          404,
          SECURITY_HEADERS,
        );
      }
      return send(c.req.header("Accept-Encoding"), index, "no-store");
    });
  }
  app.get("/assets/:file", (c) => {
    const file = assets.get(c.req.param("file"));
    if (!file) return c.notFound();
    // Names carry a hash of their content: a new build has new names, so these never go stale.
    return send(c.req.header("Accept-Encoding"), file, "public, max-age=31536000, immutable");
  });
  return app;
}
