// Compares the contract with a released copy and lists every change that would break a program
// written against the release. Within a contract version the rules are:
//
// - a subject (channel address) is never removed or renamed, a parameter never removed, and no
//   value is removed from a parameter's list;
// - a message schema is never removed; a field is never removed, never made optional when it was
//   always present (subscribers rely on it), and never made required when it was optional;
// - a new field is optional: a publisher of the previous release keeps sending messages without
//   it (and JetStream keeps those for days), and they must stay valid;
// - a type is never narrowed: no type dropped (`null` included; integer may widen to number, not
//   back), no enum value removed, no bound tightened, no pattern or format changed or added, and
//   unknown fields stay allowed.
//
// Widening (new fields, new enum values, looser bounds) is allowed: a subscriber ignores what it
// does not know. The comparison is structural, over the JSON Schemas the generator writes.
import type { JsonSchema } from "./json-schemas.ts";

export interface ContractSnapshot {
  /** The AsyncAPI document, parsed. */
  readonly asyncapi: JsonSchema;
  /** Each message's JSON Schema by name. */
  readonly schemas: Readonly<Record<string, JsonSchema>>;
}

export interface Breakage {
  /** Where: `subject crowsnest.v1.events.{host}…`, `schema stats: container.name`. */
  readonly where: string;
  readonly what: string;
}

const asObject = (value: unknown): JsonSchema =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonSchema) : {};
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** A schema split into alternatives of one type each: `{type: [string, null]}` and `anyOf` alike. */
function variants(schema: JsonSchema): JsonSchema[] {
  const alternatives = asArray(schema.anyOf ?? schema.oneOf);
  if (alternatives.length > 0) {
    const { anyOf: _anyOf, oneOf: _oneOf, ...shared } = schema;
    return alternatives.flatMap((alternative) => variants({ ...shared, ...asObject(alternative) }));
  }
  if (Array.isArray(schema.type)) {
    return schema.type.map((type) => ({ ...schema, type }));
  }
  if (schema.type === undefined) {
    if ("const" in schema) return [{ ...schema, type: jsonType(schema.const) }];
    return [{ ...schema, type: "any" }];
  }
  return [schema];
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (Number.isInteger(value)) return "integer";
  return typeof value;
}

/** Whether every value of type `before` is still of type `after`. */
function typeAccepts(after: unknown, before: unknown): boolean {
  return after === "any" || after === before || (after === "number" && before === "integer");
}

interface Limit {
  value: number;
  exclusive: boolean;
}

/** The tighter of `minimum`/`exclusiveMinimum` (or the maximums): zod writes `> 0` as one and `≥ 0` as the other. */
function numericLimit(schema: JsonSchema, side: "lower" | "upper"): Limit | undefined {
  const [inclusive, exclusive] =
    side === "lower" ? [schema.minimum, schema.exclusiveMinimum] : [schema.maximum, schema.exclusiveMaximum];
  const limits: Limit[] = [];
  if (typeof inclusive === "number") limits.push({ value: inclusive, exclusive: false });
  if (typeof exclusive === "number") limits.push({ value: exclusive, exclusive: true });
  const sign = side === "lower" ? 1 : -1;
  return limits.reduce<Limit | undefined>((tightest, limit) => {
    if (!tightest) return limit;
    const delta = sign * (limit.value - tightest.value);
    return delta > 0 || (delta === 0 && limit.exclusive) ? limit : tightest;
  }, undefined);
}

/** Whether `after` lets through fewer values on that side than `before` did. */
function tightened(before: Limit | undefined, after: Limit | undefined, side: "lower" | "upper"): boolean {
  if (!after) return false;
  if (!before) return true;
  const delta = (side === "lower" ? 1 : -1) * (after.value - before.value);
  return delta > 0 || (delta === 0 && after.exclusive && !before.exclusive);
}

const LENGTH_BOUNDS = [
  ["minLength", "lower"],
  ["minItems", "lower"],
  ["maxLength", "upper"],
  ["maxItems", "upper"],
] as const;

function compareVariant(before: JsonSchema, after: JsonSchema, path: string): Breakage[] {
  const found: Breakage[] = [];
  const at = (what: string) => found.push({ where: path || "(message)", what });
  if (Array.isArray(after.enum)) {
    if (!Array.isArray(before.enum)) at(`restricted to the values ${JSON.stringify(after.enum)}`);
    else {
      const removed = before.enum.filter((value) => !asArray(after.enum).some((kept) => same(kept, value)));
      if (removed.length > 0)
        at(`enum values removed: ${removed.map((value) => JSON.stringify(value)).join(", ")}`);
    }
  }
  if ("const" in after && !("const" in before && same(before.const, after.const))) {
    at(`fixed to ${JSON.stringify(after.const)}`);
  }
  for (const keyword of ["pattern", "format"] as const) {
    if (after[keyword] !== undefined && after[keyword] !== before[keyword]) at(`${keyword} changed or added`);
  }
  for (const side of ["lower", "upper"] as const) {
    const limit = numericLimit(after, side);
    if (limit && tightened(numericLimit(before, side), limit, side)) {
      at(
        `${side} bound tightened to ${limit.exclusive ? (side === "lower" ? ">" : "<") : side === "lower" ? "≥" : "≤"} ${limit.value}`,
      );
    }
  }
  for (const [keyword, side] of LENGTH_BOUNDS) {
    const value = after[keyword];
    const previous = before[keyword];
    if (typeof value !== "number") continue;
    const wider = typeof previous === "number" && (side === "lower" ? previous >= value : previous <= value);
    if (!wider) at(`${keyword} tightened to ${value}`);
  }
  if (before.type === "object") found.push(...compareObjects(before, after, path));
  if (before.type === "array" && before.items !== undefined) {
    found.push(...compareSchemas(asObject(before.items), asObject(after.items ?? {}), `${path}[]`));
  }
  return found;
}

function compareObjects(before: JsonSchema, after: JsonSchema, path: string): Breakage[] {
  const found: Breakage[] = [];
  const prefix = path === "" ? "" : `${path}.`;
  const beforeProperties = asObject(before.properties);
  const afterProperties = asObject(after.properties);
  const beforeRequired = new Set(asArray(before.required));
  const afterRequired = new Set(asArray(after.required));
  for (const [name, schema] of Object.entries(beforeProperties)) {
    const field = `${prefix}${name}`;
    if (!(name in afterProperties)) {
      found.push({ where: field, what: "field removed" });
      continue;
    }
    if (beforeRequired.has(name) && !afterRequired.has(name)) {
      found.push({ where: field, what: "field no longer always present" });
    }
    if (!beforeRequired.has(name) && afterRequired.has(name)) {
      found.push({ where: field, what: "optional field made required" });
    }
    found.push(...compareSchemas(asObject(schema), asObject(afterProperties[name]), field));
  }
  for (const name of afterRequired) {
    if (typeof name === "string" && !(name in beforeProperties)) {
      found.push({ where: `${prefix}${name}`, what: "new field is required (new fields must be optional)" });
    }
  }
  if (after.additionalProperties === false && before.additionalProperties !== false) {
    found.push({ where: path || "(message)", what: "unknown fields no longer allowed" });
  }
  const beforeExtra = before.additionalProperties;
  if (typeof beforeExtra === "object" && beforeExtra !== null) {
    found.push(
      ...compareSchemas(asObject(beforeExtra), asObject(after.additionalProperties ?? {}), `${prefix}*`),
    );
  }
  return found;
}

/** Every way `after` rejects or drops something `before` promised. */
export function compareSchemas(before: JsonSchema, after: JsonSchema, path = ""): Breakage[] {
  const afterVariants = variants(after);
  const found: Breakage[] = [];
  for (const variant of variants(before)) {
    const candidates = afterVariants
      .filter((candidate) => typeAccepts(candidate.type, variant.type))
      .map((candidate) => compareVariant(variant, candidate, path));
    if (candidates.length === 0) {
      found.push({ where: path || "(message)", what: `type ${String(variant.type)} no longer accepted` });
      continue;
    }
    // Fine when any alternative still takes it; otherwise the closest one's differences are the news.
    const closest = candidates.reduce((best, candidate) =>
      candidate.length < best.length ? candidate : best,
    );
    found.push(...closest);
  }
  return found;
}

function compareChannels(before: JsonSchema, after: JsonSchema): Breakage[] {
  const found: Breakage[] = [];
  const afterById = asObject(after.channels);
  const afterChannels = Object.values(afterById).map(asObject);
  for (const [id, value] of Object.entries(asObject(before.channels))) {
    const channel = asObject(value);
    // A subject is known by its address; a reply inbox (address null) by its channel id.
    const match =
      channel.address === null
        ? afterById[id] === undefined
          ? undefined
          : asObject(afterById[id])
        : afterChannels.find((candidate) => candidate.address === channel.address);
    const where = `subject ${channel.address === null ? id : String(channel.address)}`;
    if (!match) {
      found.push({ where, what: "subject removed or renamed" });
      continue;
    }
    const afterParameters = asObject(match.parameters);
    for (const [name, parameterValue] of Object.entries(asObject(channel.parameters))) {
      const parameter = asObject(parameterValue);
      const afterParameter = asObject(afterParameters[name]);
      if (!(name in afterParameters)) {
        found.push({ where, what: `parameter ${name} removed` });
        continue;
      }
      const kept = asArray(afterParameter.enum);
      if (afterParameter.enum !== undefined) {
        const removed = asArray(parameter.enum).filter((entry) => !kept.includes(entry));
        if (parameter.enum === undefined || removed.length > 0) {
          found.push({
            where,
            what: `parameter ${name} no longer takes ${removed.join(", ") || "every value"}`,
          });
        }
      }
    }
    const afterMessages = Object.keys(asObject(match.messages));
    for (const message of Object.keys(asObject(channel.messages))) {
      if (!afterMessages.includes(message)) found.push({ where, what: `message ${message} no longer sent` });
    }
  }
  return found;
}

/** Everything in `current` that breaks a program written against `release`. */
export function compareContracts(release: ContractSnapshot, current: ContractSnapshot): Breakage[] {
  const found = compareChannels(release.asyncapi, current.asyncapi);
  for (const [name, schema] of Object.entries(release.schemas)) {
    const now = current.schemas[name];
    if (!now) {
      found.push({ where: `schema ${name}`, what: "message schema removed" });
      continue;
    }
    for (const breakage of compareSchemas(schema, now)) {
      found.push({ where: `schema ${name}: ${breakage.where}`, what: breakage.what });
    }
  }
  return found;
}
