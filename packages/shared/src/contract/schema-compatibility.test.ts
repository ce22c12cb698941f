// The compatibility check against deliberately broken copies of the contract: each change a v1
// subscriber or publisher would trip over is reported, and the additions v1 allows are not.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { deadletterMessage } from "../messages/deadletter-message.ts";
import { eventMessage } from "../messages/event-message.ts";
import { logsRequest } from "../messages/rpc-messages.ts";
import { statsMessage } from "../messages/stats-message.ts";
import { buildAsyncApiDocument } from "./asyncapi-document.ts";
import { CONTRACT_MESSAGES } from "./contract-catalogue.ts";
import { buildJsonSchemas, type JsonSchema, messageJsonSchema } from "./json-schemas.ts";
import { type ContractSnapshot, compareContracts, compareSchemas } from "./schema-compatibility.ts";

const schemas = buildJsonSchemas();
const release: ContractSnapshot = {
  asyncapi: JSON.parse(JSON.stringify(buildAsyncApiDocument(schemas))) as JsonSchema,
  schemas,
};

/** The release with one message's zod schema replaced, as if the code had changed. */
function withSchema(name: string, schema: z.ZodType): ContractSnapshot {
  const message = CONTRACT_MESSAGES.find((candidate) => candidate.name === name);
  if (!message) throw new Error(`no message ${name}`);
  return { ...release, schemas: { ...release.schemas, [name]: messageJsonSchema({ ...message, schema }) } };
}

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe("compareContracts", () => {
  it("finds nothing between the contract and itself", () => {
    expect(compareContracts(release, copy(release))).toEqual([]);
  });

  it("reports a removed field", () => {
    expect(compareContracts(release, withSchema("stats", statsMessage.omit({ mem_used: true })))).toEqual([
      { where: "schema stats: mem_used", what: "field removed" },
    ]);
  });

  it("reports a removed nested field", () => {
    const changed = statsMessage.extend({ container: z.object({ external_id: z.string().min(1).max(512) }) });
    expect(compareContracts(release, withSchema("stats", changed))).toContainEqual({
      where: "schema stats: container.name",
      what: "field removed",
    });
  });

  it("reports a type that no longer takes null, or only integers", () => {
    const notNull = statsMessage.extend({ cpu_percent: z.number().nonnegative() });
    expect(compareContracts(release, withSchema("stats", notNull))).toEqual([
      { where: "schema stats: cpu_percent", what: "type null no longer accepted" },
    ]);
    const integer = statsMessage.extend({ cpu_percent: z.number().int().nonnegative().nullable() });
    expect(compareContracts(release, withSchema("stats", integer))).toEqual([
      { where: "schema stats: cpu_percent", what: "type number no longer accepted" },
    ]);
  });

  it("reports a tightened bound and a new pattern", () => {
    const bounded = statsMessage.extend({ pids: z.number().int().min(1).max(4_000_000).nullable() });
    expect(compareContracts(release, withSchema("stats", bounded)).map((breakage) => breakage.what)).toEqual([
      "lower bound tightened to ≥ 1",
      "upper bound tightened to ≤ 4000000",
    ]);
    const positive = statsMessage.extend({ pids: z.number().int().positive().nullable() });
    expect(compareContracts(release, withSchema("stats", positive))).toEqual([
      { where: "schema stats: pids", what: "lower bound tightened to > 0" },
    ]);
    const patterned = eventMessage.extend({
      image: z
        .string()
        .regex(/^[a-z]/)
        .nullable(),
    });
    expect(compareContracts(release, withSchema("event", patterned))).toEqual([
      { where: "schema event: image", what: "pattern changed or added" },
    ]);
  });

  it("reports a removed enum value", () => {
    const narrowed = deadletterMessage.extend({
      reason: z.enum(["invalid_json", "invalid_schema", "unprocessable", "subject_mismatch"]),
    });
    expect(compareContracts(release, withSchema("deadletter", narrowed))).toEqual([
      { where: "schema deadletter: reason", what: 'enum values removed: "too_old"' },
    ]);
  });

  it("reports a field that is no longer always present, and an optional one made required", () => {
    const optional = statsMessage.extend({ pids: z.number().int().nonnegative().nullable().optional() });
    expect(compareContracts(release, withSchema("stats", optional))).toEqual([
      { where: "schema stats: pids", what: "field no longer always present" },
    ]);
    const required = logsRequest.extend({ tail: z.number().int().min(0).max(5000) });
    expect(compareContracts(release, withSchema("logs-request", required))).toEqual([
      { where: "schema logs-request: tail", what: "optional field made required" },
    ]);
  });

  it("reports a new required field, which the previous release's publishers do not send", () => {
    expect(compareContracts(release, withSchema("stats", statsMessage.extend({ zone: z.string() })))).toEqual(
      [{ where: "schema stats: zone", what: "new field is required (new fields must be optional)" }],
    );
  });

  it("reports unknown fields no longer allowed", () => {
    expect(compareContracts(release, withSchema("stats", statsMessage.strict()))).toEqual([
      { where: "schema stats: (message)", what: "unknown fields no longer allowed" },
    ]);
  });

  it("reports a renamed subject, a removed parameter value and a removed message schema", () => {
    const renamed = copy(release);
    const channels = renamed.asyncapi.channels as Record<string, JsonSchema>;
    channels.events = { ...channels.events, address: "crowsnest.v1.event.{host}.{runtime}.{kind}.{action}" };
    const parameters = (channels.stats as { parameters: Record<string, JsonSchema> }).parameters;
    parameters.runtime = { ...parameters.runtime, enum: ["docker", "containerd", "cri"] };
    const { heartbeat: _removed, ...remaining } = renamed.schemas;
    expect(compareContracts(release, { ...renamed, schemas: remaining })).toEqual([
      {
        where: "subject crowsnest.v1.stats.{host}.{runtime}.{container}",
        what: "parameter runtime no longer takes kubernetes",
      },
      {
        where: "subject crowsnest.v1.events.{host}.{runtime}.{kind}.{action}",
        what: "subject removed or renamed",
      },
      { where: "schema heartbeat", what: "message schema removed" },
    ]);
  });

  it("accepts what v1 allows: an optional field, a new enum value, a wider type, a looser bound", () => {
    const widened = statsMessage.extend({
      zone: z.string().optional(),
      runtime: z.enum(["docker", "kubernetes", "containerd", "cri", "podman"]),
      pids: z.number().nonnegative().nullable(),
      interval_ms: z.number().int().nullable(),
    });
    expect(compareContracts(release, withSchema("stats", widened))).toEqual([]);
  });

  it("tells a union's alternatives apart: a logs reply's error variant losing a field is reported", () => {
    const before = release.schemas["logs-reply"] ?? {};
    const after = copy(before);
    const errorVariant = (after.oneOf as JsonSchema[])[1] as { properties: Record<string, unknown> };
    delete errorVariant.properties.error;
    expect(compareSchemas(before, after)).toContainEqual({ where: "error", what: "field removed" });
  });
});
