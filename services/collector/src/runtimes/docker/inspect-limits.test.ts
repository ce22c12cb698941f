import { describe, expect, it } from "vitest";
import { inspectFixture } from "./fixtures/docker-stats-fixtures.ts";
import { limitsFromInspect, startedAtFromInspect } from "./inspect-limits.ts";

describe("limitsFromInspect", () => {
  it("has no limits for a container started without any", () => {
    expect(limitsFromInspect(inspectFixture())).toEqual({ memLimitBytes: null, cpuLimitCores: null });
  });

  it("reads --memory and --cpus", () => {
    expect(limitsFromInspect(inspectFixture({ Memory: 67_108_864, NanoCpus: 1_500_000_000 }))).toEqual({
      memLimitBytes: 67_108_864,
      cpuLimitCores: 1.5,
    });
  });

  it("reads --cpu-quota with --cpu-period, and with the kernel's default period", () => {
    expect(limitsFromInspect(inspectFixture({ CpuQuota: 50_000, CpuPeriod: 200_000 })).cpuLimitCores).toBe(
      0.25,
    );
    expect(limitsFromInspect(inspectFixture({ CpuQuota: 250_000 })).cpuLimitCores).toBe(2.5);
  });

  it("treats a quota of -1 as unlimited", () => {
    expect(limitsFromInspect(inspectFixture({ CpuQuota: -1, CpuPeriod: 100_000 })).cpuLimitCores).toBeNull();
  });

  it("has no limits when the answer has no usable HostConfig", () => {
    for (const odd of [undefined, null, "x", {}, { HostConfig: { Memory: "64m", NanoCpus: -1 } }]) {
      expect(limitsFromInspect(odd)).toEqual({ memLimitBytes: null, cpuLimitCores: null });
    }
  });
});

describe("startedAtFromInspect", () => {
  it("reads State.StartedAt", () => {
    expect(startedAtFromInspect(inspectFixture({}, "2026-11-21T20:00:00.1Z"))).toBe("2026-11-21T20:00:00.1Z");
    expect(startedAtFromInspect({})).toBeNull();
  });
});
