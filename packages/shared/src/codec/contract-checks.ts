// Hand-written checks of the messages the agents publish (heartbeat, host sample, stats sample,
// event, inventory with its container descriptions, the watcher's logs and inspect replies), so that the agents encode without loading
// zod: zod and the schemas cost each agent MBs of memory at start (docs/benchmarks.md). The zod
// schemas (messages/*.ts) stay the contract; each check here accepts exactly what its schema
// accepts and returns what the schema's parse returns (the same value, without the keys the
// schema does not know), which contract-checks.test.ts verifies on generated and mutated
// messages. A refusal says where and what was expected, in the schema's terms.
//
// A check returns the value as the schema would return it (the very object when it has no
// unknown keys, so a valid message costs no copy) or a Refusal. Paths are built only on refusal.
import {
  CONTAINER_STATES,
  EPOCH_NANOS_PATTERN,
  EVENT_ACTION_PATTERN,
  EVENT_KINDS,
  HEALTH_STATUSES,
  INVENTORY_REASONS,
  SCHEMA_VERSION,
  SERVICE_NAMES,
  STATS_SOURCES,
  TIMESTAMP_PATTERN,
} from "../messages/contract-values.ts";
import { LOG_STREAMS, RPC_ERROR_CODES } from "../messages/rpc-values.ts";
import { RUNTIMES } from "../runtime/runtimes.ts";

export class Refusal {
  readonly path: readonly (string | number)[];
  readonly expected: string;

  constructor(path: readonly (string | number)[], expected: string) {
    this.path = path;
    this.expected = expected;
  }

  under(key: string | number): Refusal {
    return new Refusal([key, ...this.path], this.expected);
  }

  describe(): string {
    return `${this.path.length > 0 ? this.path.join(".") : "(root)"}: expected ${this.expected}`;
  }
}

export type Check = (value: unknown) => unknown;

const literal =
  (expected: unknown): Check =>
  (value) =>
    value === expected ? value : new Refusal([], JSON.stringify(expected));

const string =
  ({
    min = 0,
    max = Number.POSITIVE_INFINITY,
    pattern,
  }: {
    min?: number;
    max?: number;
    pattern?: RegExp;
  } = {}): Check =>
  (value) => {
    if (typeof value !== "string" || value.length < min || value.length > max) {
      return new Refusal([], `a string of ${min} to ${max} characters`);
    }
    if (pattern !== undefined && !pattern.test(value)) return new Refusal([], `a string matching ${pattern}`);
    return value;
  };

const timestamp = string({ pattern: TIMESTAMP_PATTERN });

// zod's number refuses NaN and ±Infinity; its int() is a safe integer.
const number =
  ({
    int = false,
    min = Number.NEGATIVE_INFINITY,
    max = Number.POSITIVE_INFINITY,
    above,
  }: {
    int?: boolean;
    min?: number;
    max?: number;
    above?: number;
  } = {}): Check =>
  (value) => {
    if (
      typeof value !== "number" ||
      !Number.isFinite(value) ||
      (int && !Number.isSafeInteger(value)) ||
      value < min ||
      value > max ||
      (above !== undefined && value <= above)
    ) {
      const range = above !== undefined ? `> ${above}` : `in [${min}, ${max}]`;
      return new Refusal([], `${int ? "an integer" : "a finite number"} ${range}`);
    }
    return value;
  };

const byteCount = number({ int: true, min: 0 });
const nonNegative = number({ min: 0 });
const positiveInt = number({ int: true, above: 0 });
const nonNegativeInt = byteCount;

const boolean: Check = (value) => (typeof value === "boolean" ? value : new Refusal([], "a boolean"));

const oneOf = (values: readonly string[]): Check => {
  const allowed: ReadonlySet<unknown> = new Set(values);
  return (value) => (allowed.has(value) ? value : new Refusal([], `one of ${values.join(", ")}`));
};

const nullable =
  (check: Check): Check =>
  (value) =>
    value === null ? null : check(value);

const optional =
  (check: Check): Check =>
  (value) =>
    value === undefined ? undefined : check(value);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** zod's record takes plain objects only (a literal, JSON's, or one without a prototype). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isObject(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** zod's object: the shape's keys checked, unknown keys dropped from what it returns. */
const object = (shape: Record<string, Check>): Check => {
  const keys = Object.keys(shape);
  return (value) => {
    if (!isObject(value)) return new Refusal([], "an object");
    let changed = false;
    let present = 0;
    const checked: unknown[] = [];
    for (const key of keys) {
      const field = value[key];
      if (Object.hasOwn(value, key)) present += 1;
      const out = (shape[key] as Check)(field);
      if (out instanceof Refusal) return out.under(key);
      if (out !== field) changed = true;
      checked.push(out);
    }
    if (!changed && present === Object.keys(value).length) return value;
    const stripped: Record<string, unknown> = {};
    keys.forEach((key, index) => {
      const out = checked[index];
      if (out !== undefined) stripped[key] = out;
    });
    return stripped;
  };
};

/** zod's record of strings to strings. */
const stringRecord: Check = (value) => {
  if (!isPlainObject(value)) return new Refusal([], "an object of strings");
  for (const key of Object.keys(value)) {
    if (typeof value[key] !== "string") return new Refusal([key], "a string");
  }
  return value;
};

const array =
  (element: Check): Check =>
  (value) => {
    if (!Array.isArray(value)) return new Refusal([], "an array");
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      const out = element(item);
      if (out instanceof Refusal) return out.under(index);
      if (out !== item && copy === undefined) copy = value.slice(0, index);
      copy?.push(out);
    }
    return copy ?? value;
  };

const schemaVersion = literal(SCHEMA_VERSION);
const hostName = string({ min: 1, max: 253 });
const runtime = oneOf(RUNTIMES);
const healthStatus = oneOf(HEALTH_STATUSES);
const containerRefShape = { external_id: string({ min: 1, max: 512 }), name: string({ max: 512 }) };

export const heartbeatCheck: Check = object({
  v: schemaVersion,
  host: hostName,
  service: oneOf(SERVICE_NAMES),
  version: string(),
  runtime: nullable(runtime),
  runtime_api_version: optional(string({ min: 1, max: 64 })),
  connected: boolean,
  started_at: timestamp,
  ts: timestamp,
  interval_ms: positiveInt,
});

export const hostStatsCheck: Check = object({
  v: schemaVersion,
  host: hostName,
  ts: timestamp,
  cpu_percent: nullable(number({ min: 0, max: 100 })),
  online_cpus: positiveInt,
  mem_total: byteCount,
  mem_used: byteCount,
  mem_available: byteCount,
  load_1: nonNegative,
  load_5: nonNegative,
  load_15: nonNegative,
  uptime_s: nonNegative,
});

export const statsCheck: Check = object({
  v: schemaVersion,
  host: hostName,
  runtime,
  container: object(containerRefShape),
  ts: timestamp,
  interval_ms: nullable(positiveInt),
  cpu_percent: nullable(nonNegative),
  online_cpus: nullable(positiveInt),
  cpu_limit_cores: nullable(number({ above: 0 })),
  mem_used: nullable(byteCount),
  mem_limit: nullable(byteCount),
  net_rx_bytes: nullable(byteCount),
  net_tx_bytes: nullable(byteCount),
  net_rx_bytes_per_s: nullable(nonNegative),
  net_tx_bytes_per_s: nullable(nonNegative),
  blk_read_bytes: nullable(byteCount),
  blk_write_bytes: nullable(byteCount),
  blk_read_bytes_per_s: nullable(nonNegative),
  blk_write_bytes_per_s: nullable(nonNegative),
  pids: nullable(nonNegativeInt),
  source: optional(oneOf(STATS_SOURCES)),
});

export const eventCheck: Check = object({
  v: schemaVersion,
  event_id: string({ min: 1, max: 1024 }),
  host: hostName,
  runtime,
  kind: oneOf(EVENT_KINDS),
  action: string({ pattern: EVENT_ACTION_PATTERN }),
  actor: object(containerRefShape),
  ts: timestamp,
  ts_nano: nullable(string({ pattern: EPOCH_NANOS_PATTERN })),
  image: nullable(string()),
  exit_code: nullable(number({ int: true })),
  oom_killed: nullable(boolean),
  signal: nullable(string()),
  health_status: nullable(healthStatus),
  synthesized: boolean,
  attributes: stringRecord,
});

export const containerInfoCheck: Check = object({
  ...containerRefShape,
  image: string(),
  image_id: nullable(string()),
  state: oneOf(CONTAINER_STATES),
  labels: stringRecord,
  created_at: nullable(timestamp),
  started_at: nullable(timestamp),
  finished_at: nullable(timestamp),
  restart_count: nullable(nonNegativeInt),
  exit_code: nullable(number({ int: true })),
  pid: nullable(nonNegativeInt),
  health: nullable(
    object({
      status: healthStatus,
      failing_streak: nullable(nonNegativeInt),
      last_output: nullable(string()),
    }),
  ),
  limits: object({
    mem_limit: nullable(byteCount),
    cpu_limit_cores: nullable(number({ above: 0 })),
    pids_limit: nullable(positiveInt),
  }),
  compose: nullable(
    object({
      project: string(),
      service: string(),
      number: nullable(nonNegativeInt),
    }),
  ),
  kubernetes: nullable(
    object({
      namespace: string(),
      pod: string(),
      pod_uid: string(),
      container: string(),
      node: nullable(string()),
      owner_kind: nullable(string()),
      owner_name: nullable(string()),
      ready: nullable(boolean),
    }),
  ),
});

export const inventoryCheck: Check = object({
  v: schemaVersion,
  host: hostName,
  runtime,
  ts: timestamp,
  reason: oneOf(INVENTORY_REASONS),
  snapshot_id: string({ min: 1, max: 128 }),
  part: positiveInt,
  parts: positiveInt,
  containers: array(containerInfoCheck),
});

/** zod's discriminated union on `ok`: the reply's own shape, or the error. */
const okOrError =
  (ok: Check, error: Check): Check =>
  (value) => {
    if (!isObject(value) || (value.ok !== true && value.ok !== false)) {
      return new Refusal(["ok"], "true or false");
    }
    return value.ok ? ok(value) : error(value);
  };

const rpcErrorCheck: Check = object({
  v: schemaVersion,
  ok: literal(false),
  error: object({ code: oneOf(RPC_ERROR_CODES), message: string() }),
});

export const logsReplyCheck: Check = okOrError(
  object({
    v: schemaVersion,
    ok: literal(true),
    seq: nonNegativeInt,
    lines: array(object({ stream: oneOf(LOG_STREAMS), ts: nullable(timestamp), text: string() })),
    done: boolean,
  }),
  rpcErrorCheck,
);

export const inspectReplyCheck: Check = okOrError(
  object({ v: schemaVersion, ok: literal(true), container: containerInfoCheck }),
  rpcErrorCheck,
);
