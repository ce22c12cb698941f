import { describe, expect, it } from "vitest";
import { cgroupV1Stats, cgroupV2Stats } from "./fixtures/docker-stats-fixtures.ts";
import { readDockerStats } from "./stats-reading.ts";

describe("readDockerStats", () => {
  it("reads both cgroup layouts", () => {
    expect(readDockerStats(cgroupV1Stats()).ok).toBe(true);
    expect(readDockerStats(cgroupV2Stats()).ok).toBe(true);
  });

  it("rejects an answer without a usable read time", () => {
    expect(readDockerStats(null)).toMatchObject({ ok: false, reason: "malformed" });
    expect(readDockerStats([])).toMatchObject({ ok: false, reason: "malformed" });
    expect(readDockerStats({ ...cgroupV2Stats(), read: 17 })).toMatchObject({
      ok: false,
      reason: "malformed",
    });
  });

  it("recognizes the answer for a container that stopped meanwhile (Go's zero time)", () => {
    const stopped = { read: "0001-01-01T00:00:00Z", preread: "0001-01-01T00:00:00Z", cpu_stats: {} };
    expect(readDockerStats(stopped)).toMatchObject({ ok: false, reason: "not_running" });
  });

  it("turns every malformed figure into null instead of throwing or guessing", () => {
    const result = readDockerStats({
      read: "2026-11-21T21:00:00.000Z",
      cpu_stats: { cpu_usage: { total_usage: -5 }, system_cpu_usage: "lots", online_cpus: 2.5 },
      memory_stats: { usage: 1000, stats: { inactive_file: Number.NaN } },
      networks: { eth0: { rx_bytes: 10, tx_bytes: 10 }, eth1: { rx_bytes: "x", tx_bytes: null } },
      blkio_stats: {
        io_service_bytes_recursive: [{ op: "Read", value: -1 }, "junk", { op: "Write", value: 7 }],
      },
      pids_stats: { current: "3" },
    });
    expect(result).toEqual({
      ok: true,
      reading: {
        readAtMs: Date.parse("2026-11-21T21:00:00.000Z"),
        cpuTotalNs: null,
        systemCpuNs: null,
        onlineCpus: null,
        memUsedBytes: null,
        netRxBytes: null,
        netTxBytes: null,
        blkReadBytes: null,
        blkWriteBytes: 7,
        pids: null,
      },
    });
  });

  it("takes memory usage as it is when the engine gives no cache figure", () => {
    const result = readDockerStats({ read: "2026-11-21T21:00:00Z", memory_stats: { usage: 4096 } });
    expect(result.ok && result.reading.memUsedBytes).toBe(4096);
  });
});
