// The dashboard's files as the api serves them: index.html for every view's path, uncached;
// hashed assets cached for good; the Content-Security-Policy on all of them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { DASHBOARD_CSP, dashboardRoutes, isDashboardPath } from "./dashboard-routes.ts";

const dir = mkdtempSync(join(tmpdir(), "crowsnest-dashboard-"));
mkdirSync(join(dir, "assets"));
writeFileSync(
  join(dir, "index.html"),
  '<!doctype html><script type="module" src="/assets/main-ABC123.js"></script>',
);
writeFileSync(join(dir, "assets", "main-ABC123.js"), "console.log('dashboard');".repeat(50));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("dashboard files", () => {
  const app = dashboardRoutes(dir);

  it("serves index.html at every view's path, never cached, with a strict CSP", async () => {
    for (const path of ["/", "/alerts", "/containers/42", "/containers/web-1?host=a", "/sign-in"]) {
      const response = await app.request(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(response.headers.get("Content-Security-Policy")).toBe(DASHBOARD_CSP);
      expect(await response.text()).toContain("/assets/main-ABC123.js");
    }
    expect(DASHBOARD_CSP).toContain("default-src 'none'");
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain("unsafe");
  });

  it("serves hashed assets cached for a year, gzipped when the browser takes it", async () => {
    const plain = await app.request("/assets/main-ABC123.js");
    expect(plain.status).toBe(200);
    expect(plain.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    expect(plain.headers.get("Content-Type")).toBe("text/javascript; charset=utf-8");
    expect(plain.headers.get("X-Content-Type-Options")).toBe("nosniff");
    const plainText = await plain.text();
    const gzipped = await app.request("/assets/main-ABC123.js", {
      headers: { "Accept-Encoding": "gzip, br" },
    });
    expect(gzipped.headers.get("Content-Encoding")).toBe("gzip");
    const bytes = Buffer.from(await gzipped.arrayBuffer());
    expect(bytes.length).toBeLessThan(plainText.length);
    expect(gunzipSync(bytes).toString("utf8")).toBe(plainText);
    expect((await app.request("/assets/missing-1.js")).status).toBe(404);
  });

  it("says how to build it when it is not built", async () => {
    const response = await dashboardRoutes(join(dir, "nothing-here")).request("/");
    expect(response.status).toBe(404);
    expect(await response.text()).toContain("pnpm build");
  });

  it("claims only the dashboard's own paths", () => {
    expect(isDashboardPath("/")).toBe(true);
    expect(isDashboardPath("/containers/web")).toBe(true);
    expect(isDashboardPath("/assets/x.js")).toBe(true);
    expect(isDashboardPath("/api/v1/containers")).toBe(false);
    expect(isDashboardPath("/metrics")).toBe(false);
    expect(isDashboardPath("/containers/1/logs")).toBe(false);
  });
});
