// The bus contract beside the HTTP API's own description: the AsyncAPI document, one JSON
// Schema per message and the browsable page, as `pnpm contract` generated and committed them
// to the repository's `contract/` folder (test/contract.test.ts keeps them equal to the code).
// Public, like the OpenAPI document: they describe the bus, not data.
import { readdirSync, readFileSync } from "node:fs";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/app-env.ts";

export const ASYNCAPI_PATH = "/api/v1/asyncapi.json";
export const CONTRACT_PAGE_PATH = "/api/v1/bus-contract";
const SCHEMAS_PATH = "/api/v1/schemas";

// The same depth from src/ and dist/: services/api/{src,dist}/contract/ → the repository root.
const contractDir = new URL("../../../../contract/", import.meta.url);

const asyncApi = readFileSync(new URL("asyncapi.json", contractDir), "utf8");
const page = readFileSync(new URL("bus-contract.html", contractDir), "utf8");
const schemas = new Map(
  readdirSync(new URL("schemas/", contractDir))
    .filter((file) => file.endsWith(".json"))
    .map((file) => [file, readFileSync(new URL(`schemas/${file}`, contractDir), "utf8")]),
);

/** Every path these routes serve, for the list of paths served without a token. */
export const CONTRACT_PATHS: readonly string[] = [
  ASYNCAPI_PATH,
  CONTRACT_PAGE_PATH,
  ...[...schemas.keys()].map((file) => `${SCHEMAS_PATH}/${file}`),
];

const CACHE = "public, max-age=300";

export function registerContract(app: OpenAPIHono<AppEnv>): void {
  app.get(ASYNCAPI_PATH, (c) =>
    c.body(asyncApi, 200, { "Content-Type": "application/json", "Cache-Control": CACHE }),
  );
  app.get(`${SCHEMAS_PATH}/:file`, (c) => {
    const schema = schemas.get(c.req.param("file"));
    if (schema === undefined) return c.notFound();
    return c.body(schema, 200, { "Content-Type": "application/schema+json", "Cache-Control": CACHE });
  });
  app.get(CONTRACT_PAGE_PATH, (c) => c.html(page, 200, { "Cache-Control": CACHE }));
}
