// Keeps the published bus contract (`contract/`) true to the code and to its own promises: the
// committed files are what `pnpm contract` generates now, the AsyncAPI document passes the
// official parser, every example and every example in docs/bus-contract.md is valid by an independent validator (ajv),
// and nothing breaks a program written against the released baseline (`contract/baseline/`).
import { readdirSync, readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";
import { codecs } from "@crowsnest/shared";
import {
  type ContractSnapshot,
  compareContracts,
  contractFiles,
  type JsonSchema,
} from "@crowsnest/shared/contract";
import { describe, expect, it } from "vitest";
import {
  createContractValidator,
  messageNameForCodec,
  publishedSchemas,
} from "./support/contract-validator.ts";

const contractDir = new URL("../contract/", import.meta.url);
const read = (path: string, dir = contractDir) => readFileSync(new URL(path, dir), "utf8");

const generated = contractFiles();
const committedAsyncApi = JSON.parse(read("asyncapi.json")) as {
  channels: Record<string, { address: string | null; "x-jetstream"?: { stream: string; max_age: string } }>;
  components: { messages: Record<string, { examples: { name: string; payload: unknown }[] }> };
};

function snapshot(dir: URL): ContractSnapshot {
  return {
    asyncapi: JSON.parse(read("asyncapi.json", dir)) as JsonSchema,
    schemas: publishedSchemas(new URL("schemas/", dir)),
  };
}

describe("the committed contract", () => {
  it("is what the code generates (run `pnpm contract` to update it)", () => {
    const stale = [...generated].filter(([path, content]) => read(path) !== content).map(([path]) => path);
    expect(stale).toEqual([]);
    const extra = readdirSync(new URL("schemas/", contractDir)).filter(
      (file) => !generated.has(`schemas/${file}`),
    );
    expect(extra).toEqual([]);
  });

  it("has a schema for every message a codec validates", () => {
    expect(Object.keys(publishedSchemas()).sort()).toEqual(
      Object.keys(codecs).map(messageNameForCodec).sort(),
    );
  });

  it("passes the AsyncAPI parser with no error and no warning", async () => {
    const { document, diagnostics } = await new Parser().parse(read("asyncapi.json"));
    expect(document).toBeDefined();
    // Severity 0 is an error, 1 a warning; 2 and 3 are information and hints. The one the parser
    // gives is that AsyncAPI 3.1.0 exists: the contract is written in 3.0.0 on purpose, the
    // version the issue asks for and every 3.x tool reads.
    const reported = diagnostics.map((diagnostic) => ({
      severity: diagnostic.severity,
      code: String(diagnostic.code),
    }));
    expect(reported.filter((diagnostic) => diagnostic.severity <= 1)).toEqual([]);
    expect(reported).toEqual([{ severity: 2, code: "asyncapi-latest-version" }]);
  }, 60_000);

  it("names the JetStream stream and age that keep each subject", () => {
    const kept = Object.fromEntries(
      Object.entries(committedAsyncApi.channels).map(([id, channel]) => [
        id,
        channel["x-jetstream"] ? `${channel["x-jetstream"].stream} ${channel["x-jetstream"].max_age}` : null,
      ]),
    );
    expect(kept).toMatchObject({
      stats: "CROWSNEST_TELEMETRY 24 h",
      hostStats: "CROWSNEST_TELEMETRY 24 h",
      events: "CROWSNEST_EVENTS 7 d",
      inventory: "CROWSNEST_EVENTS 7 d",
      alerts: "CROWSNEST_ALERTS 7 d",
      deadletter: "CROWSNEST_DEADLETTER 7 d",
      agents: null,
      rpcLogs: null,
    });
  });
});

describe("the docs' subject tables", () => {
  const addresses = Object.values(committedAsyncApi.channels)
    .map((channel) => channel.address)
    .filter((address) => address !== null);
  const tableSubjects = (path: string) =>
    [...readFileSync(new URL(path, import.meta.url), "utf8").matchAll(/^\| `(crowsnest\.v1\.[^`]+)`/gm)].map(
      (match) => (match[1] ?? "").replace(/<(\w+)>/g, "{$1}"),
    );

  it("docs/bus-contract.md lists every subject of the document, and no other", () => {
    expect(tableSubjects("../docs/bus-contract.md").sort()).toEqual([...addresses].sort());
  });
});

describe("the published JSON Schemas, by ajv", () => {
  const validator = createContractValidator();

  it.each(
    Object.entries(committedAsyncApi.components.messages).flatMap(([name, message]) =>
      message.examples.map((example) => [name, example.name, example.payload] as const),
    ),
  )("accept the AsyncAPI example %s/%s", (name, _example, payload) => {
    expect(validator.problems(name, payload)).toBeUndefined();
  });

  const pageExamples = [
    ...readFileSync(new URL("../docs/bus-contract.md", import.meta.url), "utf8").matchAll(
      /```json (\w+)\n([\s\S]*?)```/g,
    ),
  ].map((match) => [messageNameForCodec(match[1] ?? ""), JSON.parse(match[2] ?? "null") as unknown] as const);

  it.each(pageExamples)("accept docs/bus-contract.md's %s example", (name, payload) => {
    expect(validator.problems(name, payload)).toBeUndefined();
  });

  // The same rejections zod makes (packages/shared/src/messages/messages.test.ts), so the two
  // validators agree on what a message is.
  const sample = committedAsyncApi.components.messages.stats?.examples[0]?.payload as Record<string, unknown>;
  it.each([
    ["a wrong version", { ...sample, v: 2 }],
    ["a missing field", { ...sample, mem_used: undefined }],
    ["-1 for an unknown value", { ...sample, net_rx_bytes: -1 }],
    ["a timestamp without milliseconds", { ...sample, ts: "2026-11-21T20:15:00Z" }],
    ["a timestamp with an offset", { ...sample, ts: "2026-11-21T21:15:00.123+01:00" }],
    ["an unknown runtime", { ...sample, runtime: "lxc" }],
    ["a string for a number", { ...sample, cpu_percent: "97" }],
    ["a fraction for an integer", { ...sample, pids: 1.5 }],
  ])("reject stats with %s, as zod does", (_label, bad) => {
    const payload = JSON.parse(JSON.stringify(bad)) as unknown;
    expect(validator.problems("stats", payload)).toBeDefined();
    expect(codecs.stats.decode(new TextEncoder().encode(JSON.stringify(payload))).ok).toBe(false);
  });

  it("accept unknown fields, which later v1 releases may add", () => {
    expect(validator.problems("stats", { ...sample, added_later: 1 })).toBeUndefined();
  });
});

describe("compatibility with the released contract (contract/baseline/)", () => {
  it("removes, renames or narrows nothing", () => {
    const current: ContractSnapshot = {
      asyncapi: JSON.parse(generated.get("asyncapi.json") ?? "{}") as JsonSchema,
      schemas: Object.fromEntries(
        [...generated]
          .filter(([path]) => path.startsWith("schemas/"))
          .map(([path, content]) => [path.slice("schemas/".length, -".json".length), JSON.parse(content)]),
      ),
    };
    expect(compareContracts(snapshot(new URL("baseline/", contractDir)), current)).toEqual([]);
  });
});
