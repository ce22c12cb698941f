// Round trips of every message of the contract through its codec, and rejection of malformed payloads.
import { describe, expect, it } from "vitest";
import { codecs } from "../codec/codecs.ts";
import type { ContainerInfo } from "./container-info.ts";
import type { EventMessage } from "./event-message.ts";
import type { StatsMessage } from "./stats-message.ts";

const TS = "2026-11-21T20:15:00.123Z";
const encoder = new TextEncoder();
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

const stats: StatsMessage = {
  v: 1,
  host: "node-1",
  runtime: "docker",
  container: { external_id: "a".repeat(64), name: "web" },
  ts: TS,
  interval_ms: 10_000,
  cpu_percent: 97.5,
  online_cpus: 2,
  cpu_limit_cores: null,
  mem_used: 64 * 1024 * 1024,
  mem_limit: null,
  net_rx_bytes: 1000,
  net_tx_bytes: 2000,
  net_rx_bytes_per_s: 12.5,
  net_tx_bytes_per_s: 0,
  blk_read_bytes: null,
  blk_write_bytes: null,
  blk_read_bytes_per_s: null,
  blk_write_bytes_per_s: null,
  pids: 3,
};

const info: ContainerInfo = {
  external_id: "b".repeat(64),
  name: "db",
  image: "postgres:15",
  image_id: "sha256:abc",
  state: "running",
  labels: { "com.docker.compose.project": "shop" },
  created_at: TS,
  started_at: TS,
  finished_at: null,
  restart_count: 0,
  exit_code: null,
  pid: 4242,
  health: { status: "healthy", failing_streak: 0, last_output: "ok" },
  limits: { mem_limit: 512 * 1024 * 1024, cpu_limit_cores: 1.5, pids_limit: null },
  compose: { project: "shop", service: "db", number: 1 },
  kubernetes: null,
};

const event: EventMessage = {
  v: 1,
  event_id: "node-1/docker/1763756100123456789/bbb/die",
  host: "node-1",
  runtime: "docker",
  kind: "container",
  action: "die",
  actor: { external_id: "b".repeat(64), name: "db" },
  ts: TS,
  ts_nano: "1763756100123456789",
  image: "postgres:15",
  exit_code: 137,
  oom_killed: true,
  signal: null,
  health_status: null,
  synthesized: false,
  attributes: { exitCode: "137" },
};

describe("message codecs", () => {
  it.each([
    ["stats", codecs.stats, stats],
    [
      "host stats",
      codecs.hostStats,
      {
        v: 1,
        host: "node-1",
        ts: TS,
        cpu_percent: 12.5,
        online_cpus: 2,
        mem_total: 24e9,
        mem_used: 4e9,
        mem_available: 20e9,
        load_1: 0.5,
        load_5: 0.4,
        load_15: 0.3,
        uptime_s: 3600,
      },
    ],
    ["event", codecs.event, event],
    [
      "inventory",
      codecs.inventory,
      {
        v: 1,
        host: "node-1",
        runtime: "docker",
        ts: TS,
        reason: "startup",
        snapshot_id: "s1",
        part: 1,
        parts: 1,
        containers: [info],
      },
    ],
    [
      "alert transition",
      codecs.alertTransition,
      {
        v: 1,
        host: "node-1",
        runtime: "docker",
        container: { external_id: "c", name: "web" },
        ts: TS,
        metric: "memory",
        change: "fired",
        value: 93.2,
        threshold: 90,
        previous_state: "cpu_alert",
        new_state: "both_alert",
      },
    ],
    [
      "heartbeat",
      codecs.heartbeat,
      {
        v: 1,
        host: "node-1",
        service: "collector",
        version: "0.1.0",
        runtime: "docker",
        connected: true,
        started_at: TS,
        ts: TS,
        interval_ms: 15000,
      },
    ],
    [
      "heartbeat with its runtime's API version",
      codecs.heartbeat,
      {
        v: 1,
        host: "node-1",
        service: "watcher",
        version: "0.1.0",
        runtime: "cri",
        runtime_api_version: "v1alpha2",
        connected: true,
        started_at: TS,
        ts: TS,
        interval_ms: 15000,
      },
    ],
    [
      "logs reply",
      codecs.logsReply,
      { v: 1, ok: true, seq: 0, lines: [{ stream: "stderr", ts: TS, text: "boom" }], done: true },
    ],
    [
      "logs error reply",
      codecs.logsReply,
      { v: 1, ok: false, error: { code: "not_found", message: "no such" } },
    ],
    ["inspect request", codecs.inspectRequest, { v: 1, container: "web" }],
    ["inspect reply", codecs.inspectReply, { v: 1, ok: true, container: info }],
  ] as const)("%s survives encode and decode unchanged", (_name, codec, message) => {
    const encoded = (codec.encode as (value: unknown) => ReturnType<typeof codec.encode>)(message);
    if (!encoded.ok) throw new Error(encoded.detail);
    expect(codec.decode(encoded.data)).toEqual({ ok: true, value: message });
  });

  it("reads a heartbeat without a runtime API version (older agents) and refuses an empty one", () => {
    const beat = {
      v: 1,
      host: "node-1",
      service: "collector",
      version: "0.1.0",
      runtime: "docker",
      connected: true,
      started_at: TS,
      ts: TS,
      interval_ms: 15000,
    };
    const decoded = codecs.heartbeat.decode(json(beat));
    expect(decoded).toEqual({ ok: true, value: beat });
    expect(decoded.ok && "runtime_api_version" in decoded.value).toBe(false);
    expect(codecs.heartbeat.decode(json({ ...beat, runtime_api_version: "" }))).toMatchObject({
      ok: false,
      reason: "invalid_schema",
    });
  });

  it("fills request defaults", () => {
    const decoded = codecs.logsRequest.decode(json({ v: 1, container: "web" }));
    expect(decoded).toEqual({
      ok: true,
      value: {
        v: 1,
        container: "web",
        tail: 100,
        since: null,
        until: null,
        timestamps: false,
        follow: false,
        stream: "both",
      },
    });
  });

  it("reports bytes that are not JSON, without throwing", () => {
    expect(codecs.stats.decode(encoder.encode("{not json"))).toMatchObject({
      ok: false,
      reason: "invalid_json",
    });
    expect(codecs.stats.decode(new Uint8Array([0xff, 0xfe]))).toMatchObject({
      ok: false,
      reason: "invalid_json",
    });
  });

  it.each([
    ["a wrong version", { ...stats, v: 2 }, "v"],
    ["a missing field", { ...stats, mem_used: undefined }, "mem_used"],
    ["-1 for an unknown value", { ...stats, net_rx_bytes: -1 }, "net_rx_bytes"],
    ["a timestamp without milliseconds", { ...stats, ts: "2026-11-21T20:15:00Z" }, "ts"],
    ["a timestamp with an offset", { ...stats, ts: "2026-11-21T21:15:00.123+01:00" }, "ts"],
    ["an unknown runtime", { ...stats, runtime: "lxc" }, "runtime"],
    ["a string for a number", { ...stats, cpu_percent: "97" }, "cpu_percent"],
    ["NaN smuggled as null-free number", { ...stats, pids: 1.5 }, "pids"],
  ])("rejects stats with %s and names the field", (_label, bad, field) => {
    const decoded = codecs.stats.decode(json(bad));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.reason).toBe("invalid_schema");
      expect(decoded.detail).toContain(field);
    }
  });

  it("rejects a JSON array, null and a bare number", () => {
    for (const bad of [[], null, 42, "x"]) {
      expect(codecs.event.decode(json(bad))).toMatchObject({ ok: false, reason: "invalid_schema" });
    }
  });

  it("rejects events with actions that could break subjects", () => {
    for (const action of ["Die", "die.now", "", "die*"]) {
      expect(codecs.event.decode(json({ ...event, action })).ok).toBe(false);
    }
  });

  it("rejects logs requests outside the allowed tail", () => {
    expect(codecs.logsRequest.decode(json({ v: 1, container: "x", tail: 5001 })).ok).toBe(false);
    expect(codecs.logsRequest.decode(json({ v: 1, container: "x", tail: -1 })).ok).toBe(false);
  });

  it("refuses to encode an invalid message", () => {
    const encoded = codecs.stats.encode({ ...stats, cpu_percent: -5 });
    expect(encoded.ok).toBe(false);
  });

  it("keeps a long list of problems short", () => {
    const decoded = codecs.stats.decode(json({ v: 1 }));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.detail).toMatch(/and \d+ more$/);
  });
});
