// The bus contract as files: the AsyncAPI document, one JSON Schema per message and the HTML
// page, exactly as `pnpm contract` writes them to the repository's `contract/` folder (which the
// api serves). A test regenerates them in memory and fails when the committed copy is stale.
import { type AsyncApiDocument, buildAsyncApiDocument } from "./asyncapi-document.ts";
import { renderContractPage } from "./contract-page.ts";
import { buildJsonSchemas } from "./json-schemas.ts";

export { CONTRACT_MESSAGES } from "./contract-catalogue.ts";
export type { JsonSchema } from "./json-schemas.ts";
export { type ContractSnapshot, compareContracts } from "./schema-compatibility.ts";

export const ASYNCAPI_FILE = "asyncapi.json";
const CONTRACT_PAGE_FILE = "bus-contract.html";
const schemaFile = (name: string): string => `schemas/${name}.json`;

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** Every generated file by its path relative to `contract/`. */
export function contractFiles(): Map<string, string> {
  const schemas = buildJsonSchemas();
  const document: AsyncApiDocument = buildAsyncApiDocument(schemas);
  const files = new Map<string, string>([[ASYNCAPI_FILE, json(document)]]);
  for (const [name, schema] of Object.entries(schemas)) files.set(schemaFile(name), json(schema));
  files.set(CONTRACT_PAGE_FILE, renderContractPage(document));
  return files;
}
