// A static, browsable HTML page of the bus contract, rendered from the AsyncAPI document when the
// contract files are generated: no script, no CDN, one self-contained file. Its links are
// relative (`schemas/<name>.json`, `asyncapi.json`), so they work both where the api serves it
// (`/api/v1/bus-contract`) and in the repository's `contract/` folder.
import type { AsyncApiDocument } from "./asyncapi-document.ts";
import type { JsonSchema } from "./json-schemas.ts";

const escapeHtml = (text: string): string =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

/** The little Markdown the document's texts use: `code` spans and `- ` list lines. */
function inlineMarkdown(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>");
}

function markdownBlock(text: string): string {
  const html: string[] = [];
  let list: string[] = [];
  const flush = () => {
    if (list.length > 0) html.push(`<ul>${list.map((item) => `<li>${item}</li>`).join("")}</ul>`);
    list = [];
  };
  for (const line of text.split("\n")) {
    if (line.startsWith("- ")) list.push(inlineMarkdown(line.slice(2)));
    else {
      flush();
      if (line.trim() !== "") html.push(`<p>${inlineMarkdown(line)}</p>`);
    }
  }
  flush();
  return html.join("\n");
}

const asSchema = (value: unknown): JsonSchema =>
  typeof value === "object" && value !== null ? (value as JsonSchema) : {};
const asSchemas = (value: unknown): JsonSchema[] => (Array.isArray(value) ? value.map(asSchema) : []);

/** A short type for a field: `integer ≥ 0 | null`, `"docker" | "kubernetes"`, `object`. */
function describeType(schema: JsonSchema): string {
  const variants = asSchemas(schema.anyOf ?? schema.oneOf);
  if (variants.length > 0) return variants.map(describeType).join(" | ");
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => JSON.stringify(value)).join(" | ");
  if ("const" in schema) return JSON.stringify(schema.const);
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : [String(schema.type ?? "any")];
  const bounds: string[] = [];
  if (typeof schema.minimum === "number" && Math.abs(schema.minimum) < Number.MAX_SAFE_INTEGER)
    bounds.push(`≥ ${schema.minimum}`);
  if (typeof schema.exclusiveMinimum === "number") bounds.push(`> ${schema.exclusiveMinimum}`);
  if (typeof schema.maximum === "number" && Math.abs(schema.maximum) < Number.MAX_SAFE_INTEGER)
    bounds.push(`≤ ${schema.maximum}`);
  if (schema.format === "date-time") bounds.push("RFC 3339 UTC, ms");
  if (types[0] === "array") return `array of ${describeType(asSchema(schema.items))}`;
  const base = types.join(" | ");
  return bounds.length > 0 ? `${base} (${bounds.join(", ")})` : base;
}

/** A field's description; zod puts one given before `.nullable()` on the non-null alternative. */
function describedAs(schema: JsonSchema): string {
  if (typeof schema.description === "string") return schema.description;
  const described = asSchemas(schema.anyOf).find((variant) => typeof variant.description === "string");
  return typeof described?.description === "string" ? described.description : "";
}

interface FieldRow {
  path: string;
  type: string;
  required: boolean;
  description: string;
}

/** The object schema inside `X | null` or `array of X`, whose fields are listed under the field's path. */
function nestedObject(schema: JsonSchema): { schema: JsonSchema; suffix: string } | undefined {
  if (schema.type === "object" && schema.properties) return { schema, suffix: "" };
  if (schema.type === "array") {
    const inner = nestedObject(asSchema(schema.items));
    return inner ? { schema: inner.schema, suffix: `[]${inner.suffix}` } : undefined;
  }
  for (const variant of asSchemas(schema.anyOf)) {
    const inner = nestedObject(variant);
    if (inner) return inner;
  }
  return undefined;
}

function fieldRows(schema: JsonSchema, prefix = ""): FieldRow[] {
  const properties = asSchema(schema.properties);
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  return Object.entries(properties).flatMap(([name, value]) => {
    const property = asSchema(value);
    const path = `${prefix}${name}`;
    const nested = nestedObject(property);
    const row: FieldRow = {
      path,
      type: describeType(property),
      required: required.has(name),
      description: describedAs(property),
    };
    return nested ? [row, ...fieldRows(nested.schema, `${path}${nested.suffix}.`)] : [row];
  });
}

function fieldTable(schema: JsonSchema): string {
  const rows = fieldRows(schema)
    .map(
      (row) =>
        `<tr><td><code>${escapeHtml(row.path)}</code></td><td>${escapeHtml(row.type)}</td><td>${row.required ? "yes" : "no"}</td><td>${inlineMarkdown(row.description)}</td></tr>`,
    )
    .join("\n");
  return `<table><thead><tr><th>field</th><th>type</th><th>required</th><th>meaning</th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

function messageSection(name: string, message: JsonSchema, schema: JsonSchema): string {
  const variants = asSchemas(schema.oneOf);
  const tables =
    variants.length > 0
      ? variants
          .map((variant) => {
            const ok = asSchema(asSchema(variant.properties).ok);
            return `<h4>when <code>ok</code> is <code>${escapeHtml(JSON.stringify(ok.const))}</code></h4>\n${fieldTable(variant)}`;
          })
          .join("\n")
      : fieldTable(schema);
  const headers = asSchema(asSchema(message.headers).properties);
  const messageId = asSchema(headers["Nats-Msg-Id"]).description;
  const examples = Array.isArray(message.examples) ? message.examples.map(asSchema) : [];
  return [
    `<section id="message-${escapeHtml(name)}">`,
    `<h3>${escapeHtml(String(message.title))} <small><code>${escapeHtml(name)}</code></small></h3>`,
    `<p>${inlineMarkdown(String(message.description))}</p>`,
    `<p>JSON Schema: <a href="schemas/${escapeHtml(name)}.json"><code>schemas/${escapeHtml(name)}.json</code></a> (<code>${escapeHtml(String(schema.$id))}</code>)</p>`,
    typeof messageId === "string"
      ? `<p>Header <code>Nats-Msg-Id</code>: ${inlineMarkdown(messageId)}</p>`
      : "<p>No <code>Nats-Msg-Id</code> header.</p>",
    tables,
    ...examples.map(
      (example) =>
        `<h4>Example: ${inlineMarkdown(String(example.summary))}</h4>\n<pre>${escapeHtml(JSON.stringify(example.payload, null, 2))}</pre>`,
    ),
    "</section>",
  ].join("\n");
}

function messageLinks(channel: JsonSchema): string {
  return Object.keys(asSchema(channel.messages))
    .map((name) => `<a href="#message-${escapeHtml(name)}"><code>${escapeHtml(name)}</code></a>`)
    .join(", ");
}

function channelSection(id: string, channel: JsonSchema): string {
  const parameters = Object.entries(asSchema(channel.parameters))
    .map(([name, value]) => {
      const parameter = asSchema(value);
      const values = Array.isArray(parameter.enum)
        ? ` One of: <code>${parameter.enum.join("</code>, <code>")}</code>.`
        : "";
      return `<tr><td><code>{${escapeHtml(name)}}</code></td><td>${inlineMarkdown(String(parameter.description))}${values}</td></tr>`;
    })
    .join("\n");
  const address = channel.address === null ? "the requester's reply subject" : String(channel.address);
  return [
    `<section id="channel-${escapeHtml(id)}">`,
    `<h3>${escapeHtml(String(channel.title))}</h3>`,
    `<p><code class="subject">${escapeHtml(address)}</code></p>`,
    `<p>${inlineMarkdown(String(channel.description))}</p>`,
    parameters === ""
      ? ""
      : `<table><thead><tr><th>token</th><th>meaning</th></tr></thead><tbody>\n${parameters}\n</tbody></table>`,
    `<p>Messages: ${messageLinks(channel)}</p>`,
    "</section>",
  ]
    .filter((line) => line !== "")
    .join("\n");
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
code{font:13px ui-monospace,monospace;background:#f2f4f7;padding:0 .2em;border-radius:3px}
code.subject{font-size:15px}
pre{background:#f2f4f7;padding:.8rem;overflow-x:auto;font-size:13px}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
section{border-top:1px solid #d0d7de;margin-top:1.5rem}
small{font-weight:normal}`;

export function renderContractPage(document: AsyncApiDocument): string {
  const channels = document.channels as Record<string, JsonSchema>;
  const schemas = document.components.schemas as Record<string, JsonSchema>;
  const messages = document.components.messages as Record<string, JsonSchema>;
  const summaryRows = Object.entries(channels)
    .filter(([, channel]) => channel.address !== null)
    .map(([id, channel]) => {
      const stream = asSchema(channel["x-jetstream"]);
      const kept =
        typeof stream.stream === "string"
          ? `<code>${escapeHtml(stream.stream)}</code>, ${escapeHtml(String(stream.max_age))}`
          : "no (core NATS)";
      return `<tr><td><a href="#channel-${escapeHtml(id)}"><code>${escapeHtml(String(channel.address))}</code></a></td><td>${messageLinks(channel)}</td><td>${kept}</td></tr>`;
    })
    .join("\n");
  const operations = Object.entries(document.operations as Record<string, JsonSchema>)
    .map(
      ([id, operation]) =>
        `<li><code>${escapeHtml(id)}</code>: ${inlineMarkdown(String(operation.summary))}</li>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(document.info.title)} ${escapeHtml(document.info.version)}</title>
<style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(document.info.title)} <small>contract ${escapeHtml(document.info.version)}, AsyncAPI ${escapeHtml(document.asyncapi)}</small></h1>
${markdownBlock(document.info.description)}
<p>Machine-readable: <a href="asyncapi.json"><code>asyncapi.json</code></a> and one JSON Schema (draft 2020-12) per message under <code>schemas/</code>. Generated from the code by <code>pnpm contract</code>.</p>
<h2>Subjects</h2>
<table><thead><tr><th>subject</th><th>messages</th><th>kept in JetStream</th></tr></thead><tbody>
${summaryRows}
</tbody></table>
<h2>Operations</h2>
<ul>
${operations}
</ul>
<h2>Channels</h2>
${Object.entries(channels)
  .map(([id, channel]) => channelSection(id, channel))
  .join("\n")}
<h2>Messages</h2>
${Object.entries(messages)
  .map(([name, message]) => messageSection(name, message, asSchema(schemas[name])))
  .join("\n")}
</body>
</html>
`;
}
