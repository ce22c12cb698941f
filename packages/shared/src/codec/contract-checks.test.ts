// The hand-written contract checks against the contract's zod schemas, on generated valid
// messages and on each of them with every field (nested ones and array elements too) replaced
// by values at and across each constraint's edges, removed, or joined by an unknown key: both
// must accept and refuse the same messages, and what is accepted must be what the schema
// returns. Deterministic, so a failure reproduces.
import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../../test/support/seeded-random.ts";
import {
  TIMESTAMPS,
  validMessage as validStatsMessage,
} from "../../../../test/support/stats-message-variants.ts";
import { timestamp } from "../messages/common.ts";
import {
  CONTAINER_STATES,
  EVENT_KINDS,
  HEALTH_STATUSES,
  INVENTORY_REASONS,
  isHealthStatus,
  SERVICE_NAMES,
  STATS_SOURCES,
  TIMESTAMP_PATTERN,
} from "../messages/contract-values.ts";
import { eventMessage } from "../messages/event-message.ts";
import { heartbeatMessage } from "../messages/heartbeat-message.ts";
import { hostStatsMessage } from "../messages/host-stats-message.ts";
import { inventoryMessage } from "../messages/inventory-message.ts";
import {
  inspectReply as inspectReplySchema,
  logsReply as logsReplySchema,
} from "../messages/rpc-messages.ts";
import { LOG_STREAMS, RPC_ERROR_CODES } from "../messages/rpc-values.ts";
import { statsMessage } from "../messages/stats-message.ts";
import { RUNTIMES } from "../runtime/runtimes.ts";
import { checkedEncoders } from "./checked-encoders.ts";
import { codecs } from "./codecs.ts";
import {
  type Check,
  eventCheck,
  heartbeatCheck,
  hostStatsCheck,
  inspectReplyCheck,
  inventoryCheck,
  logsReplyCheck,
  Refusal,
  statsCheck,
} from "./contract-checks.ts";

const next = seededRandom(20261205);
const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
const orNull = <T>(value: T): T | null => (next() < 0.25 ? null : value);
const integer = (max: number) => Math.floor(next() * max);
const time = () => new Date(Date.UTC(2020, 0, 1) + integer(10 * 365 * 86_400_000)).toISOString();
const text = () => pick(["", "a", "web.1", "é😀", "x".repeat(300)]);
const labels = () =>
  pick([{}, { "com.docker.compose.project": "shop", a: "" }, { "dev.crowsnest.test": "1", é: "😀" }]);

const NUMBER_EDGES = [
  0,
  -0,
  1,
  -1,
  0.5,
  -0.5,
  1e-300,
  100,
  100.5,
  2 ** 31,
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53),
  1e308,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.NaN,
];
const OTHER_EDGES = [
  null,
  true,
  false,
  [],
  [1],
  ["a"],
  {},
  { v: 1 },
  { a: 1 },
  new Date(0),
  Object.create(null),
];
const STRINGS = [
  "",
  "a",
  "A",
  "1",
  "a_b",
  "a-b",
  "1a",
  "é",
  "😀",
  "a".repeat(64),
  "a".repeat(65),
  "a".repeat(128),
  "a".repeat(129),
  "a".repeat(253),
  "a".repeat(254),
  "a".repeat(512),
  "a".repeat(513),
  "a".repeat(1024),
  "a".repeat(1025),
  "1".repeat(20),
  "1".repeat(21),
  "-1",
  "1.5",
  "Docker",
  "Running",
  ...RUNTIMES,
  ...CONTAINER_STATES,
  ...HEALTH_STATUSES,
  ...EVENT_KINDS,
  ...SERVICE_NAMES,
  ...INVENTORY_REASONS,
  ...STATS_SOURCES,
  ...RPC_ERROR_CODES,
  ...LOG_STREAMS,
];
/** Each field is replaced by each of these, and removed (undefined). */
const REPLACEMENTS: unknown[] = [...NUMBER_EDGES, ...OTHER_EDGES, ...STRINGS, ...TIMESTAMPS, undefined];

function heartbeat() {
  return {
    v: 1 as const,
    host: pick(["h", "a".repeat(253)]),
    service: pick(SERVICE_NAMES),
    version: pick(["0.1.0", ""]),
    runtime: orNull(pick(RUNTIMES)),
    ...(next() < 0.5 ? { runtime_api_version: pick(["v1", "v1alpha2"]) } : {}),
    connected: next() < 0.5,
    started_at: time(),
    ts: time(),
    interval_ms: 1 + integer(60_000),
  };
}

function hostStats() {
  return {
    v: 1 as const,
    host: "host-a",
    ts: time(),
    cpu_percent: orNull(pick([0, 100, next() * 100])),
    online_cpus: 1 + integer(256),
    mem_total: integer(2 ** 40),
    mem_used: integer(2 ** 40),
    mem_available: integer(2 ** 40),
    load_1: next() * 10,
    load_5: pick([0, next() * 10]),
    load_15: next() * 10,
    uptime_s: next() * 1e6,
  };
}

function event() {
  return {
    v: 1 as const,
    event_id: pick(["e", "x".repeat(1024)]),
    host: "host-a",
    runtime: pick(RUNTIMES),
    kind: pick(EVENT_KINDS),
    action: pick(["start", "health_status", "a".repeat(64)]),
    actor: { external_id: "c".repeat(64), name: text() },
    ts: time(),
    ts_nano: orNull(pick(["0", "1".repeat(20)])),
    image: orNull(text()),
    exit_code: orNull(pick([0, -1, 137])),
    oom_killed: orNull(next() < 0.5),
    signal: orNull("SIGKILL"),
    health_status: orNull(pick(HEALTH_STATUSES)),
    synthesized: next() < 0.5,
    attributes: labels(),
  };
}

function containerInfo() {
  return {
    external_id: pick(["c".repeat(64), "ns/pod/c"]),
    name: text(),
    image: text(),
    image_id: orNull("sha256:abc"),
    state: pick(CONTAINER_STATES),
    labels: labels(),
    created_at: orNull(time()),
    started_at: orNull(time()),
    finished_at: orNull(time()),
    restart_count: orNull(integer(10)),
    exit_code: orNull(pick([0, -1, 255])),
    pid: orNull(integer(100_000)),
    health: orNull({
      status: pick(HEALTH_STATUSES),
      failing_streak: orNull(integer(5)),
      last_output: orNull(text()),
    }),
    limits: {
      mem_limit: orNull(integer(2 ** 40)),
      cpu_limit_cores: orNull(pick([0.001, 2])),
      pids_limit: orNull(1 + integer(1000)),
    },
    compose: orNull({ project: "shop", service: "web", number: orNull(1 + integer(3)) }),
    kubernetes: orNull({
      namespace: "default",
      pod: "web-1",
      pod_uid: "uid",
      container: "web",
      node: orNull("node-a"),
      owner_kind: orNull("ReplicaSet"),
      owner_name: orNull("web"),
      ready: orNull(next() < 0.5),
    }),
  };
}

function inventory() {
  const parts = 1 + integer(3);
  return {
    v: 1 as const,
    host: "host-a",
    runtime: pick(RUNTIMES),
    ts: time(),
    reason: pick(INVENTORY_REASONS),
    snapshot_id: pick(["s", "s".repeat(128)]),
    part: 1 + integer(parts),
    parts,
    containers: Array.from({ length: integer(3) }, containerInfo),
  };
}

function rpcError() {
  return { v: 1 as const, ok: false as const, error: { code: pick(RPC_ERROR_CODES), message: text() } };
}

function logsReply() {
  if (next() < 0.2) return rpcError();
  return {
    v: 1 as const,
    ok: true,
    seq: integer(100),
    lines: Array.from({ length: integer(3) }, () => ({
      stream: pick(LOG_STREAMS),
      ts: orNull(time()),
      text: text(),
    })),
    done: next() < 0.5,
  };
}

function inspectReply() {
  return next() < 0.2 ? rpcError() : { v: 1 as const, ok: true as const, container: containerInfo() };
}

type Json = Record<string, unknown>;

/** Every path of the message's objects and arrays, the root's fields first. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) {
    return value.flatMap((item, index) => [[...prefix, index], ...paths(item, [...prefix, index])]);
  }
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value as Json).flatMap(([key, field]) => [
    [...prefix, key],
    ...paths(field, [...prefix, key]),
  ]);
}

/** A deep copy of `message` with the value at `path` replaced (undefined: removed). */
function replaced(message: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = Array.isArray(message) ? [...message] : { ...(message as Json) };
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  const target = copy as Record<string | number, unknown>;
  if (rest.length === 0 && value === undefined && !Array.isArray(copy)) delete target[head];
  else target[head] = replaced(target[head], rest, value);
  return copy;
}

/** The message and its variants: each path replaced by each edge value, an unknown key at each object. */
function variants(message: unknown): { path: string; value: unknown }[] {
  const out = [
    { path: "(valid)", value: message },
    { path: "(json)", value: JSON.parse(JSON.stringify(message)) as unknown },
  ];
  for (const path of paths(message)) {
    for (const value of REPLACEMENTS)
      out.push({ path: path.join("."), value: replaced(message, path, value) });
  }
  for (const path of [[], ...paths(message)]) {
    const at = path.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], message);
    if (typeof at === "object" && at !== null && !Array.isArray(at)) {
      out.push({
        path: `${path.join(".")}.(extra)`,
        value: replaced(message, [...path, "extra_key"], { x: 1 }),
      });
    }
  }
  for (const value of [null, [], "x", 1, [message]]) out.push({ path: "(root)", value });
  return out;
}

const cases = [
  { name: "heartbeat", check: heartbeatCheck, schema: heartbeatMessage, make: heartbeat, rounds: 60 },
  { name: "host stats", check: hostStatsCheck, schema: hostStatsMessage, make: hostStats, rounds: 60 },
  { name: "stats", check: statsCheck, schema: statsMessage, make: validStatsMessage, rounds: 40 },
  { name: "event", check: eventCheck, schema: eventMessage, make: event, rounds: 60 },
  { name: "inventory", check: inventoryCheck, schema: inventoryMessage, make: inventory, rounds: 15 },
  { name: "logs reply", check: logsReplyCheck, schema: logsReplySchema, make: logsReply, rounds: 40 },
  {
    name: "inspect reply",
    check: inspectReplyCheck,
    schema: inspectReplySchema,
    make: inspectReply,
    rounds: 15,
  },
] as const;

describe("contract checks", () => {
  for (const { name, check, schema, make, rounds } of cases) {
    it(`${name}: accepts and refuses exactly what the zod schema does, and returns what it returns`, () => {
      let accepted = 0;
      let refused = 0;
      for (let round = 0; round < rounds; round++) {
        for (const { path, value } of variants(make())) {
          const expected = (
            schema as { safeParse(v: unknown): { success: boolean; data?: unknown } }
          ).safeParse(value);
          const actual = (check as Check)(value);
          const ok = !(actual instanceof Refusal);
          if (ok !== expected.success) {
            const detail = actual instanceof Refusal ? actual.describe() : "accepted";
            expect.fail(`${path}: check ${detail}, schema ${expected.success} for ${JSON.stringify(value)}`);
          }
          if (ok) {
            // What goes on the bus: the same JSON (zod copies a record without a prototype into a plain object).
            expect(JSON.parse(JSON.stringify(actual)), path).toStrictEqual(
              JSON.parse(JSON.stringify(expected.data)),
            );
            accepted += 1;
          } else refused += 1;
        }
      }
      // Both sides of the comparison were exercised, many times.
      expect(accepted).toBeGreaterThan(rounds * 5);
      expect(refused).toBeGreaterThan(rounds * 100);
    }, 120_000);
  }

  it("encode to the JSON the zod codecs write, and say where a refused message is wrong", () => {
    const message = inventory();
    const withExtra = { ...message, extra_key: 1 };
    const mine = checkedEncoders.inventory.encode(withExtra);
    const theirs = codecs.inventory.encode(withExtra);
    if (!mine.ok || !theirs.ok) expect.fail("a valid inventory was refused");
    expect(JSON.parse(Buffer.from(mine.data).toString())).toStrictEqual(
      JSON.parse(Buffer.from(theirs.data).toString()),
    );
    const refusal = checkedEncoders.event.encode({ ...event(), actor: { external_id: "", name: "" } });
    expect(refusal).toEqual({
      ok: false,
      detail: "actor.external_id: expected a string of 1 to 512 characters",
    });
    expect(checkedEncoders.heartbeat.encode({ ...heartbeat(), interval_ms: 0 })).toEqual({
      ok: false,
      detail: "interval_ms: expected an integer > 0",
    });
  });

  it("share the schema's time pattern and health statuses", () => {
    expect(TIMESTAMP_PATTERN.source).toBe((timestamp.def as { pattern: RegExp }).pattern.source);
    for (const value of [...HEALTH_STATUSES, "Healthy", "", null, 1]) {
      expect(isHealthStatus(value)).toBe(
        eventMessage.shape.health_status.safeParse(value).success && value !== null,
      );
    }
  });
});
