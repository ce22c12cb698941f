// One JSON Schema (draft 2020-12) per message, converted from the zod schema the codecs use.
//
// The schemas describe what a consumer accepts (zod's input side): fields with a default may be
// left out, and unknown fields are allowed, because within a contract version fields are only
// ever added and a subscriber written today must accept tomorrow's messages.
import { z } from "zod";
import { CONTRACT_VERSION } from "../subjects/subjects.ts";
import { CONTRACT_MESSAGES, type ContractMessage } from "./contract-catalogue.ts";

export type JsonSchema = Record<string, unknown>;

const JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema";

/** The `$id` of a message's schema: names the contract version, so a v2 schema never shadows a v1 one. */
function schemaId(name: string): string {
  return `urn:crowsnest:bus:${CONTRACT_VERSION}:${name}`;
}

export function messageJsonSchema(message: ContractMessage): JsonSchema {
  const { $schema: _dialect, ...body } = z.toJSONSchema(message.schema, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "throw",
  }) as JsonSchema;
  return {
    $schema: JSON_SCHEMA_DIALECT,
    $id: schemaId(message.name),
    title: message.title,
    description: message.description,
    ...body,
  };
}

/** Every message's schema by name, checking on the way that each example is valid (by zod). */
export function buildJsonSchemas(): Record<string, JsonSchema> {
  const schemas: Record<string, JsonSchema> = {};
  for (const message of CONTRACT_MESSAGES) {
    for (const example of message.examples) {
      const parsed = message.schema.safeParse(example.payload);
      if (!parsed.success) {
        throw new Error(`example ${message.name}/${example.name} is invalid: ${parsed.error.message}`);
      }
    }
    schemas[message.name] = messageJsonSchema(message);
  }
  return schemas;
}
