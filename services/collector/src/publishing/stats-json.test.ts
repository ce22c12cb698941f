import { isStatsMessage, type StatsMessage } from "@crowsnest/shared/agent";
import { describe, expect, it } from "vitest";
import { CONTAINER_ID, statsMessage } from "../fixtures/stats-message.ts";
import { StatsJsonWriter } from "./stats-json.ts";

/** A deterministic generator, so a failure names a reproducible case. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const NAMES = [
  "db",
  "shop.api.1",
  'quote"d',
  "back\\slash",
  "tab\tand\nnewline",
  "ünïcødé",
  "emoji 🐳",
  "\u0001ctl",
  "",
];
const HOSTS = ["node-1.example.com", "h", "höst", 'a"b'];

function numberValue(next: () => number, integer: boolean): number | null {
  const pick = next();
  if (pick < 0.15) return null;
  if (pick < 0.25) return 0;
  if (pick < 0.3) return -0;
  if (pick < 0.35) return Number.MAX_SAFE_INTEGER;
  if (pick < 0.4) return 10 ** Math.floor(next() * 16);
  if (pick < 0.45) return 10 ** Math.floor(next() * 16) - 1;
  if (integer) return Math.floor(next() * 2 ** Math.floor(next() * 53));
  if (pick < 0.55) return next() * 1e-7;
  if (pick < 0.6) return 1e21 * (1 + next());
  return next() * 10 ** Math.floor(next() * 12);
}

function generated(next: () => number): StatsMessage {
  const int = () => numberValue(next, true);
  const real = () => numberValue(next, false);
  const positiveInt = () => {
    const value = int();
    return value === null || value === 0 ? null : value;
  };
  const sample = statsMessage({
    host: HOSTS[Math.floor(next() * HOSTS.length)] as string,
    runtime: next() < 0.5 ? "docker" : "kubernetes",
    container: {
      external_id: next() < 0.5 ? CONTAINER_ID : `${Math.floor(next() * 1000)}`,
      name: NAMES[Math.floor(next() * NAMES.length)] as string,
    },
    ts: new Date(Math.floor(next() * 4e12)).toISOString(),
    interval_ms: positiveInt(),
    cpu_percent: real(),
    online_cpus: positiveInt(),
    cpu_limit_cores: real() || null,
    mem_used: int(),
    mem_limit: int(),
    net_rx_bytes: int(),
    net_tx_bytes: int(),
    net_rx_bytes_per_s: real(),
    net_tx_bytes_per_s: real(),
    blk_read_bytes: int(),
    blk_write_bytes: int(),
    blk_read_bytes_per_s: real(),
    blk_write_bytes_per_s: real(),
    pids: int(),
  });
  const source = next();
  if (source < 0.1) sample.source = "kubelet_summary";
  else if (source < 0.2) sample.source = "metrics_api";
  else if (source < 0.3) sample.source = undefined;
  return sample;
}

function expected(sample: StatsMessage): Buffer {
  return Buffer.from(JSON.stringify(sample));
}

describe("StatsJsonWriter", () => {
  it("writes a sample as JSON.stringify does, byte for byte", () => {
    const bytes = new StatsJsonWriter().encode(statsMessage());
    expect(Buffer.from(bytes ?? []).equals(expected(statsMessage()))).toBe(true);
  });

  it("writes thousands of generated samples as JSON.stringify does, the same containers again and again", () => {
    const writer = new StatsJsonWriter();
    const next = random(22);
    let written = 0;
    for (let round = 0; round < 5000; round++) {
      const sample = generated(next);
      if (!isStatsMessage(sample)) continue;
      const bytes = writer.encode(sample);
      expect(bytes, JSON.stringify(sample)).toBeDefined();
      expect(Buffer.from(bytes ?? []).toString("utf8"), `round ${round}`).toBe(
        expected(sample).toString("utf8"),
      );
      expect(Buffer.from(bytes ?? []).equals(expected(sample))).toBe(true);
      written++;
    }
    // Most generated samples are valid ones: the comparison covers them, not a handful.
    expect(written).toBeGreaterThan(1000);
  });

  it("follows a container's renamed name, host and runtime instead of its cached start", () => {
    const writer = new StatsJsonWriter();
    const samples = [
      statsMessage(),
      statsMessage({ container: { external_id: CONTAINER_ID, name: "renamed" } }),
      statsMessage({ host: "other-host", container: { external_id: CONTAINER_ID, name: "renamed" } }),
      statsMessage({ runtime: "containerd", container: { external_id: CONTAINER_ID, name: "renamed" } }),
      statsMessage({ ts: "2026-11-21T21:00:11.000Z" }),
    ];
    for (const sample of samples) {
      expect(Buffer.from(writer.encode(sample) ?? []).equals(expected(sample))).toBe(true);
    }
  });

  it("leaves a message of any other shape to JSON.stringify", () => {
    const writer = new StatsJsonWriter();
    const { cpu_percent, ...rest } = statsMessage();
    const reordered = { ...rest, cpu_percent } as StatsMessage;
    const extraKey = { ...statsMessage(), note: "x" } as StatsMessage;
    const extraContainerKey = statsMessage({
      container: { external_id: CONTAINER_ID, name: "db", image: "x" } as StatsMessage["container"],
    });
    const swappedContainerKeys = statsMessage({
      container: { name: "db", external_id: CONTAINER_ID } as StatsMessage["container"],
    });
    const missingKey = { ...statsMessage() } as Partial<StatsMessage>;
    delete missingKey.pids;
    for (const sample of [reordered, extraKey, extraContainerKey, swappedContainerKeys, missingKey]) {
      expect(writer.encode(sample as StatsMessage)).toBeUndefined();
    }
  });

  it("returns a buffer of its own for every message", () => {
    const writer = new StatsJsonWriter();
    const first = writer.encode(statsMessage({ pids: 1 }));
    const second = writer.encode(statsMessage({ pids: 2 }));
    expect(Buffer.from(first ?? []).equals(expected(statsMessage({ pids: 1 })))).toBe(true);
    expect(Buffer.from(second ?? []).equals(expected(statsMessage({ pids: 2 })))).toBe(true);
  });
});
