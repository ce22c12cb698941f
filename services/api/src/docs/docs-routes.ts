// The OpenAPI 3.1 document, generated from the same zod schemas that validate requests, and a
// docs page that renders it with Swagger UI served from the package itself (no CDN: many
// self-hosted installs cannot reach one). Both are public: they describe the API, not data.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { CROWSNEST_VERSION } from "@crowsnest/shared";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/app-env.ts";

export const OPENAPI_PATH = "/api/v1/openapi.json";
export const DOCS_PATH = "/api/v1/docs";
const ASSETS_PATH = "/api/v1/docs/assets";

const swaggerDir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
const assets: Record<string, { body: string; type: string }> = {
  "swagger-ui.css": { body: readFileSync(join(swaggerDir, "swagger-ui.css"), "utf8"), type: "text/css" },
  "swagger-ui-bundle.js": {
    body: readFileSync(join(swaggerDir, "swagger-ui-bundle.js"), "utf8"),
    type: "text/javascript",
  },
};

const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Crowsnest API</title>
<link rel="stylesheet" href="${ASSETS_PATH}/swagger-ui.css"></head>
<body><div id="docs"></div>
<script src="${ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="${ASSETS_PATH}/init.js"></script>
</body></html>`;
const init = `window.ui = SwaggerUIBundle({ url: ${JSON.stringify(OPENAPI_PATH)}, dom_id: "#docs" });`;

export function registerDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "A read token for GET routes, an admin token for writes (CROWSNEST_API_*_TOKENS).",
  });
  app.doc31(OPENAPI_PATH, {
    openapi: "3.1.0",
    info: {
      title: "Crowsnest API",
      version: CROWSNEST_VERSION,
      description:
        'Containers, their samples and lifecycle events, as stored by Crowsnest. Errors are `{"error": {"code", "message", "request_id"}}`.',
    },
    security: [{ bearer: [] }],
  });
  app.get(DOCS_PATH, (c) => c.html(page));
  app.get(`${ASSETS_PATH}/init.js`, (c) => c.body(init, 200, { "Content-Type": "text/javascript" }));
  app.get(`${ASSETS_PATH}/:file`, (c) => {
    const asset = assets[c.req.param("file")];
    if (!asset) return c.notFound();
    return c.body(asset.body, 200, { "Content-Type": asset.type, "Cache-Control": "public, max-age=86400" });
  });
}
