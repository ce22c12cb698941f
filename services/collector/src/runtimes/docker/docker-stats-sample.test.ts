import { codecs, type StatsMessage } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { type ContainerLimits, UNLIMITED } from "../../core/container-limits.ts";
import type { ContainerReading } from "../../core/container-reading.ts";
import { buildStatsSample, isCounterReset } from "../../core/stats-sample.ts";
import { containerReading } from "./docker-reading.ts";
import { cgroupV1Stats, cgroupV2Stats } from "./fixtures/docker-stats-fixtures.ts";
import { readDockerStats } from "./stats-reading.ts";

const CONTAINER = {
  external_id: "77d442b90627ae51ef8ed7c4cc05d0e0835cfbe8bc4ead991f65a563cd9cea6e",
  name: "web-1",
};
const MIB = 1024 * 1024;

/** The reading the Docker runtime hands the sampling core for `raw`. */
function reading(raw: unknown, limits: ContainerLimits = UNLIMITED): ContainerReading {
  const result = readDockerStats(raw);
  if (!result.ok) throw new Error(`fixture unreadable: ${result.detail}`);
  return containerReading({ id: CONTAINER.external_id, name: CONTAINER.name }, result.reading, limits, false);
}

/** What the collector would publish for `raw`, after `previousRaw` when given. */
function sample(raw: unknown, previousRaw?: unknown, limits: ContainerLimits = UNLIMITED): StatsMessage {
  const message = buildStatsSample({
    host: "node-1",
    runtime: "docker",
    reading: reading(raw, limits),
    previous: previousRaw === undefined ? undefined : reading(previousRaw, limits),
  });
  // Whatever the input, the result must be a valid message of the contract.
  const encoded = codecs.stats.encode(message);
  if (!encoded.ok) throw new Error(`invalid message: ${encoded.detail}`);
  return message;
}

describe("buildStatsSample on cgroup v1", () => {
  // A real pair from the test machine: a busy-looping container, two one-shot reads ~2 s apart.
  const first = cgroupV1Stats({
    read: "2026-11-21T20:51:40.361948889Z",
    cpuTotalNs: 12_734_418_890,
    systemCpuNs: 1_054_440_000_000,
    rxBytes: 626,
    blkReadBytes: 4096,
    blkWriteBytes: 8192,
  });
  const second = cgroupV1Stats({
    read: "2026-11-21T20:51:42.393154085Z",
    cpuTotalNs: 14_761_189_032,
    systemCpuNs: 1_058_490_000_000,
    rxBytes: 2626,
    blkReadBytes: 4096 + 40_960,
    blkWriteBytes: 8192 + 1_016_000,
  });

  it("gives no CPU value and no rates on a container's first sample, and the counters as they are", () => {
    expect(sample(first)).toEqual({
      v: 1,
      host: "node-1",
      runtime: "docker",
      container: CONTAINER,
      // Truncated to the millisecond, never rounded up into the next one.
      ts: "2026-11-21T20:51:40.361Z",
      interval_ms: null,
      cpu_percent: null,
      online_cpus: 2,
      cpu_limit_cores: null,
      // usage minus total_inactive_file (the hierarchy's, not this cgroup's inactive_file).
      mem_used: 21_577_728 - 19_922_944,
      mem_limit: null,
      net_rx_bytes: 626,
      net_tx_bytes: 0,
      net_rx_bytes_per_s: null,
      net_tx_bytes_per_s: null,
      // Read and Write only: Sync, Async and Total would count the same bytes again.
      blk_read_bytes: 4096,
      blk_write_bytes: 8192,
      blk_read_bytes_per_s: null,
      blk_write_bytes_per_s: null,
      pids: 2,
    } satisfies StatsMessage);
  });

  it("computes CPU (100 = one core) and rates from the previous sample", () => {
    const message = sample(second, first);
    expect(message.interval_ms).toBe(2032);
    // One core kept busy on a two-core host.
    expect(message.cpu_percent).toBeCloseTo(100.087, 2);
    expect(message.net_rx_bytes_per_s).toBeCloseTo(2000 / 2.032, 6);
    expect(message.net_tx_bytes_per_s).toBe(0);
    expect(message.blk_read_bytes_per_s).toBeCloseTo(40_960 / 2.032, 6);
    expect(message.blk_write_bytes_per_s).toBeCloseTo(1_016_000 / 2.032, 6);
  });

  it("counts CPUs from the per-CPU list when online_cpus is missing", () => {
    const old = { ...second, cpu_stats: { ...second.cpu_stats, online_cpus: undefined } };
    const message = sample(old, first);
    expect(message.online_cpus).toBe(2);
    expect(message.cpu_percent).toBeCloseTo(100.087, 2);
  });

  it("has no CPU value when the number of CPUs is unknown", () => {
    const bare = {
      ...second,
      cpu_stats: { ...second.cpu_stats, online_cpus: 0, cpu_usage: { total_usage: 14_761_189_032 } },
    };
    const message = sample(bare, first);
    expect(message.online_cpus).toBeNull();
    expect(message.cpu_percent).toBeNull();
  });

  it("reports a limited container's limits from its configuration, not the host's RAM", () => {
    const limited = cgroupV1Stats();
    const message = sample(limited, undefined, { memLimitBytes: 64 * MIB, cpuLimitCores: 0.5 });
    expect(message.mem_limit).toBe(64 * MIB);
    expect(message.cpu_limit_cores).toBe(0.5);
  });

  it("gives null limits for an unlimited container although the engine reports the host's RAM", () => {
    const message = sample(cgroupV1Stats());
    expect(cgroupV1Stats().memory_stats.limit).toBeGreaterThan(0);
    expect(message.mem_limit).toBeNull();
    expect(message.cpu_limit_cores).toBeNull();
  });
});

describe("buildStatsSample on cgroup v2", () => {
  const first = cgroupV2Stats({
    read: "2026-11-21T21:00:00.123456789Z",
    cpuTotalNs: 48_000_000_000,
    systemCpuNs: 9_000_000_000_000,
    rxBytes: 1_500_000,
    txBytes: 300_000,
    blkReadBytes: 10_485_760,
    blkWriteBytes: 2_097_152,
  });
  const second = cgroupV2Stats({
    read: "2026-11-21T21:00:10.124000000Z",
    // Half a core for 10 s of a 4-CPU host's 40 s of CPU time.
    cpuTotalNs: 53_000_000_000,
    systemCpuNs: 9_040_000_000_000,
    rxBytes: 1_500_000 + 100_010,
    txBytes: 300_000 + 50_005,
    blkReadBytes: 10_485_760,
    blkWriteBytes: 2_097_152 + 1_000_100,
  });

  it("reads the v2 layout: flat inactive_file, lower-case blkio ops, several networks", () => {
    expect(sample(first)).toMatchObject({
      ts: "2026-11-21T21:00:00.123Z",
      cpu_percent: null,
      online_cpus: 4,
      mem_used: 157_286_400 - 52_428_800,
      net_rx_bytes: 1_500_000,
      net_tx_bytes: 300_000,
      blk_read_bytes: 10_485_760,
      blk_write_bytes: 2_097_152,
      pids: 12,
    });
  });

  it("computes CPU and rates from the previous sample", () => {
    const message = sample(second, first);
    expect(message.interval_ms).toBe(10_001);
    expect(message.cpu_percent).toBeCloseTo(50, 6);
    expect(message.net_rx_bytes_per_s).toBeCloseTo(10_000, 6);
    expect(message.net_tx_bytes_per_s).toBeCloseTo(5000, 6);
    expect(message.blk_read_bytes_per_s).toBe(0);
    expect(message.blk_write_bytes_per_s).toBeCloseTo(100_000, 6);
  });

  it("floors memory at 0 when the inactive cache exceeds usage", () => {
    const message = sample(cgroupV2Stats({ memUsageBytes: 1_000_000, inactiveFileBytes: 1_200_000 }));
    expect(message.mem_used).toBe(0);
  });

  it("has no memory figure when the engine gives no usage", () => {
    const raw = cgroupV2Stats();
    const message = sample({ ...raw, memory_stats: { stats: raw.memory_stats.stats } });
    expect(message.mem_used).toBeNull();
  });
});

describe("buildStatsSample when counters cannot be trusted", () => {
  const before = cgroupV2Stats({
    read: "2026-11-21T21:00:00.000Z",
    cpuTotalNs: 900_000_000_000,
    rxBytes: 9e9,
  });

  it("gives no CPU value or rates across a restart (counters went backwards)", () => {
    const after = cgroupV2Stats({
      read: "2026-11-21T21:00:10.000Z",
      cpuTotalNs: 2_000_000_000,
      rxBytes: 5000,
    });
    expect(isCounterReset(reading(before), reading(after))).toBe(true);
    const message = sample(after, before);
    expect(message.cpu_percent).toBeNull();
    expect(message.net_rx_bytes_per_s).toBeNull();
    // The counters themselves are still right.
    expect(message.net_rx_bytes).toBe(5000);
  });

  it("gives no CPU value when the host's CPU clock did not advance", () => {
    const after = cgroupV2Stats({ read: "2026-11-21T21:00:10.000Z", cpuTotalNs: 900_000_000_001 });
    expect(sample(after, before).cpu_percent).toBeNull();
  });

  it("gives no interval or rates when the read time did not advance", () => {
    const same = cgroupV2Stats({
      read: "2026-11-21T21:00:00.000999Z",
      cpuTotalNs: 900_000_000_000,
      rxBytes: 9e9,
    });
    const message = sample(same, before);
    expect(message.interval_ms).toBeNull();
    expect(message.net_rx_bytes_per_s).toBeNull();
  });
});

describe("buildStatsSample with figures the engine does not give", () => {
  it("has null network figures for a container without networks", () => {
    const { networks: _omitted, ...noNetworks } = cgroupV1Stats();
    const message = sample(noNetworks, noNetworks);
    expect(message).toMatchObject({
      net_rx_bytes: null,
      net_tx_bytes: null,
      net_rx_bytes_per_s: null,
      net_tx_bytes_per_s: null,
    });
    expect(sample({ ...cgroupV1Stats(), networks: {} }).net_rx_bytes).toBeNull();
  });

  it("has null block I/O figures when the engine gives no list, and 0 for an empty one", () => {
    const raw = cgroupV2Stats();
    const noList = { ...raw, blkio_stats: { ...raw.blkio_stats, io_service_bytes_recursive: null } };
    expect(sample(noList, noList)).toMatchObject({
      blk_read_bytes: null,
      blk_write_bytes: null,
      blk_read_bytes_per_s: null,
      blk_write_bytes_per_s: null,
    });
    const emptyList = { ...raw, blkio_stats: { ...raw.blkio_stats, io_service_bytes_recursive: [] } };
    expect(sample(emptyList)).toMatchObject({ blk_read_bytes: 0, blk_write_bytes: 0 });
  });

  it("has null pids when the engine gives none", () => {
    expect(sample({ ...cgroupV2Stats(), pids_stats: {} }).pids).toBeNull();
  });
});
