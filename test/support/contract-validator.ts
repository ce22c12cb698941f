// Validates bus messages against the published JSON Schemas (the committed files in
// `contract/schemas/`) with ajv, a validator independent of the zod schemas they were made
// from: a message the services accept but the published contract rejects (or the other way
// round) shows up here.
import { readdirSync, readFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const schemasDir = new URL("../../contract/schemas/", import.meta.url);

/** The published schemas by message name (`stats`, `logs-reply`, …), as files. */
export function publishedSchemas(dir: URL = schemasDir): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    readdirSync(dir)
      .filter((file) => file.endsWith(".json"))
      .map((file) => [file.slice(0, -".json".length), JSON.parse(readFileSync(new URL(file, dir), "utf8"))]),
  );
}

export interface ContractValidator {
  /** Why `payload` is not a valid `name` message; undefined when it is. */
  problems(name: string, payload: unknown): string | undefined;
}

export function createContractValidator(
  schemas: Record<string, Record<string, unknown>> = publishedSchemas(),
): ContractValidator {
  // strict: a keyword ajv does not know (a typo, or zod emitting something non-standard) is an error.
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats.default(ajv);
  const validators = new Map<string, ValidateFunction>(
    Object.entries(schemas).map(([name, schema]) => [name, ajv.compile(schema)]),
  );
  return {
    problems(name, payload) {
      const validate = validators.get(name);
      if (!validate) return `no published schema named ${name}`;
      if (validate(payload)) return undefined;
      return ajv.errorsText(validate.errors);
    },
  };
}

/** The published name of a codec's message: `hostStats` → `host-stats`. */
export function messageNameForCodec(codecKey: string): string {
  return codecKey.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** Which message a subject of the contract carries (the prefix may have several tokens). */
export function messageNameForSubject(subject: string, prefix: string): string | undefined {
  if (!subject.startsWith(`${prefix}.v1.`)) return undefined;
  const tokens = subject.slice(prefix.length + ".v1.".length).split(".");
  switch (tokens[0]) {
    case "stats":
      return "stats";
    case "host":
      return "host-stats";
    case "events":
      return "event";
    case "inventory":
      return "inventory";
    case "alerts":
      return "alert-transition";
    case "agents":
      return "heartbeat";
    case "deadletter":
      return "deadletter";
    case "rpc":
      return tokens[2] === "logs" ? "logs-request" : tokens[2] === "inspect" ? "inspect-request" : undefined;
    default:
      return undefined;
  }
}
