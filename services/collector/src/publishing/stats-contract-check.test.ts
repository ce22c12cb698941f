import { codecs, type StatsMessage, statsMessage } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { passesStatsContract } from "./stats-contract-check.ts";

const ID = "77d442b90627ae51ef8ed7c4cc05d0e0835cfbe8bc4ead991f65a563cd9cea6e";

const BASE: StatsMessage = {
  v: 1,
  host: "node-1.example.com",
  runtime: "docker",
  container: { external_id: ID, name: "shop.api.1" },
  ts: "2026-11-21T21:00:10.124Z",
  interval_ms: 10_001,
  cpu_percent: 50.25,
  online_cpus: 4,
  cpu_limit_cores: 1.5,
  mem_used: 104_857_600,
  mem_limit: null,
  net_rx_bytes: 1_600_010,
  net_tx_bytes: 350_005,
  net_rx_bytes_per_s: 10_000.5,
  net_tx_bytes_per_s: 5000,
  blk_read_bytes: 0,
  blk_write_bytes: 0,
  blk_read_bytes_per_s: 0,
  blk_write_bytes_per_s: 0,
  pids: 12,
};

const NUMBER_FIELDS = [
  "interval_ms",
  "cpu_percent",
  "online_cpus",
  "cpu_limit_cores",
  "mem_used",
  "mem_limit",
  "net_rx_bytes",
  "net_tx_bytes",
  "net_rx_bytes_per_s",
  "net_tx_bytes_per_s",
  "blk_read_bytes",
  "blk_write_bytes",
  "blk_read_bytes_per_s",
  "blk_write_bytes_per_s",
  "pids",
] as const;

// Values on both sides of every boundary the schema draws, and values of the wrong type.
const NUMBERS: unknown[] = [
  null,
  0,
  -0,
  1,
  0.5,
  -1,
  -0.5,
  3,
  2 ** 53 - 1,
  2 ** 53,
  1e21,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  "1",
  true,
  undefined,
  {},
];
const STRINGS: unknown[] = [
  "",
  "a",
  "a".repeat(253),
  "a".repeat(254),
  "é".repeat(512),
  "a".repeat(513),
  5,
  null,
  undefined,
];
const TIMESTAMPS: unknown[] = [
  "2026-11-21T21:00:10.124Z",
  "2024-02-29T00:00:00.000Z",
  "2026-02-29T00:00:00.000Z",
  "0000-02-29T00:00:00.000Z",
  "9999-12-31T23:59:59.999Z",
  "2026-13-01T00:00:00.000Z",
  "2026-11-21T24:00:00.000Z",
  "2026-11-21T21:00:60.000Z",
  "2026-11-21T21:00:10Z",
  "2026-11-21T21:00:10.1Z",
  "2026-11-21T21:00:10.124567Z",
  "2026-11-21T21:00:10.124+00:00",
  "+012026-11-21T21:00:10.124Z",
  "2026-11-21 21:00:10.124Z",
  "",
  1_763_758_810_124,
  null,
];

/** Each field's candidate values, for one-at-a-time and random mixes. */
const CANDIDATES: Record<string, unknown[]> = {
  v: [1, 2, 0, "1", null],
  host: STRINGS,
  runtime: ["docker", "kubernetes", "podman", "", null],
  ts: TIMESTAMPS,
  ...Object.fromEntries(NUMBER_FIELDS.map((field) => [field, NUMBERS])),
};
const CONTAINER_CANDIDATES: unknown[] = [
  { external_id: ID, name: "" },
  { external_id: "", name: "x" },
  { external_id: "a".repeat(512), name: "a".repeat(512) },
  { external_id: "a".repeat(513), name: "x" },
  { external_id: ID, name: "a".repeat(513) },
  { external_id: ID },
  { external_id: ID, name: "x", image: "busybox" },
  { external_id: 1, name: "x" },
  null,
  "container",
];

/**
 * The property under test: whatever the check accepts, the schema accepts too, and the JSON the
 * publisher then sends reads back as exactly what the schema's own encoding would have sent.
 */
function expectSound(candidate: unknown): boolean {
  const accepted = passesStatsContract(candidate as StatsMessage);
  if (accepted) {
    expect(statsMessage.safeParse(candidate).success, JSON.stringify(candidate)).toBe(true);
    const viaSchema = codecs.stats.encode(candidate as StatsMessage);
    if (!viaSchema.ok) throw new Error(viaSchema.detail);
    const sent = codecs.stats.decode(Buffer.from(JSON.stringify(candidate)));
    expect(sent).toEqual(codecs.stats.decode(viaSchema.data));
  }
  return accepted;
}

/** A small deterministic generator, so a failure can be reproduced. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe("passesStatsContract", () => {
  it("accepts a well-formed sample, also with every nullable figure null", () => {
    expect(expectSound(BASE)).toBe(true);
    const allNull = { ...BASE, ...Object.fromEntries(NUMBER_FIELDS.map((field) => [field, null])) };
    expect(expectSound(allNull)).toBe(true);
  });

  it("accepts nothing the contract's schema refuses, changing one field at a time", () => {
    let accepted = 0;
    let refused = 0;
    for (const [field, values] of Object.entries(CANDIDATES)) {
      for (const value of values) {
        if (expectSound({ ...BASE, [field]: value })) accepted += 1;
        else refused += 1;
      }
    }
    for (const container of CONTAINER_CANDIDATES) {
      if (expectSound({ ...BASE, container })) accepted += 1;
      else refused += 1;
    }
    // Both answers occur: a check that refused everything would pass the loop above trivially.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it("accepts nothing the schema refuses in random mixes of good and bad values", () => {
    const next = random(20_261_121);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const candidate: Record<string, unknown> = { ...BASE };
      for (const [field, values] of Object.entries(CANDIDATES)) {
        // Mostly good values, so that messages with a single bad value are common.
        if (next() < 0.1) candidate[field] = pick(values);
      }
      if (next() < 0.1) candidate.container = pick(CONTAINER_CANDIDATES);
      if (expectSound(candidate)) accepted += 1;
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it("leaves messages with fields it does not know to the schema", () => {
    expect(passesStatsContract({ ...BASE, source: "metrics_api" })).toBe(false);
    expect(passesStatsContract({ ...BASE, extra: 1 } as StatsMessage)).toBe(false);
  });
});
