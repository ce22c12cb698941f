// Stats messages for the tests of the checks that must agree with the contract's zod schema
// (the quick check, the store's byte scanner): generated valid messages, and each of them with
// every field mutated to values at and across each constraint's edges. Deterministic, so a
// failure reproduces.
import { type StatsMessage, statsMessage } from "@crowsnest/shared";
import { seededRandom } from "./seeded-random.ts";

const next = seededRandom(20261121);
const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
const orNull = <T>(value: T): T | null => (next() < 0.2 ? null : value);
const integer = (max: number) => Math.floor(next() * max);

const NUMBER_EDGES = [
  0,
  -0,
  1,
  -1,
  0.5,
  -0.5,
  1e-300,
  2 ** 31,
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53),
  1e308,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.NaN,
];
const OTHER_EDGES = [null, true, false, "", "1", "docker", [], [1], {}, { v: 1 }, undefined];
/** Timestamps at and across the contract's edges (leap days, precision, offsets, stray spaces). */
export const TIMESTAMPS = [
  "2026-11-21T20:15:00.123Z",
  "2024-02-29T23:59:59.999Z",
  "2023-02-29T00:00:00.000Z",
  "2026-11-21T20:15:00Z",
  "2026-11-21T20:15:00.1234Z",
  "2026-11-21T20:15:00.123+00:00",
  "2026-11-21T24:00:00.000Z",
  "2026-13-01T00:00:00.000Z",
  "2026-11-21 20:15:00.123Z",
  "2026-11-21T20:15:00.123z",
  " 2026-11-21T20:15:00.123Z",
  "2026-11-21T20:15:00.123Z\n",
];
const STRINGS = ["", "a", "é", "😀", "a".repeat(253), "a".repeat(254), "a".repeat(512), "a".repeat(513)];

export function validMessage(): StatsMessage {
  const reading = () => orNull(integer(2 ** 40));
  const rate = () => orNull(next() * 1e6);
  return {
    v: 1,
    host: pick(["h", "host-a", "a".repeat(253), "hôte-ü"]),
    runtime: pick(["docker", "kubernetes"] as const),
    container: {
      external_id: pick(["c".repeat(64), "ns/pod/container", "x", "a".repeat(512)]),
      name: pick(["", "web.1", "a".repeat(512)]),
    },
    ts: new Date(Date.UTC(2020, 0, 1) + integer(10 * 365 * 86_400_000)).toISOString(),
    interval_ms: orNull(1 + integer(60_000)),
    cpu_percent: orNull(pick([0, next() * 800, 100])),
    online_cpus: orNull(1 + integer(256)),
    cpu_limit_cores: orNull(pick([0.001, next() * 64 + 0.01])),
    mem_used: reading(),
    mem_limit: reading(),
    net_rx_bytes: reading(),
    net_tx_bytes: reading(),
    net_rx_bytes_per_s: rate(),
    net_tx_bytes_per_s: rate(),
    blk_read_bytes: reading(),
    blk_write_bytes: reading(),
    blk_read_bytes_per_s: rate(),
    blk_write_bytes_per_s: rate(),
    pids: orNull(integer(100_000)),
    ...(next() < 0.3 ? { source: pick(["kubelet_summary", "metrics_api"] as const) } : {}),
  };
}

/** The message with one field (or the container, or the whole) replaced by `value`; `undefined` removes it. */
export function mutated(message: StatsMessage, path: string, value: unknown): unknown {
  if (path === "(root)") return value;
  const copy: Record<string, unknown> = { ...message, container: { ...message.container } };
  const [first, second] = path.split(".") as [string, string | undefined];
  const target = second === undefined ? copy : (copy[first] as Record<string, unknown>);
  const key = second ?? first;
  if (value === undefined) delete target[key];
  else target[key] = value;
  return copy;
}

export function mutations(message: StatsMessage): { path: string; value: unknown }[] {
  // Every field of the schema, so a field added to the contract is mutated too.
  const fields = Object.keys(statsMessage.shape).filter((key) => key !== "container");
  const paths = [...fields, "container", "container.external_id", "container.name"];
  const out: { path: string; value: unknown }[] = [];
  for (const path of paths) {
    for (const value of [...NUMBER_EDGES, ...OTHER_EDGES, ...STRINGS]) out.push({ path, value });
  }
  for (const value of TIMESTAMPS) out.push({ path: "ts", value });
  for (const value of [2, "1", 1.0]) out.push({ path: "v", value });
  for (const value of ["Docker", "containerd", "kubernetes"]) out.push({ path: "runtime", value });
  for (const value of ["kubelet_summary", "metrics_api", "kubelet", undefined])
    out.push({ path: "source", value });
  for (const value of [null, [], "x", 1, [message]]) out.push({ path: "(root)", value });
  out.push({ path: "extra", value: { nested: true } });
  return out;
}
