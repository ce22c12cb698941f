import { codecs } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import type { ContainerLimits } from "../../core/container-limits.ts";
import type { ContainerReading, StatsSource } from "../../core/container-reading.ts";
import { buildStatsSample, isRestart } from "../../core/stats-sample.ts";
import type { KubernetesContainerReading } from "./container-reading.ts";
import { containerReading } from "./kubernetes-reading.ts";

const T0 = Date.parse("2026-11-21T21:00:00.000Z");
const STARTED = Date.parse("2026-11-21T20:00:00.000Z");

function reading(overrides: Partial<KubernetesContainerReading> = {}): KubernetesContainerReading {
  return {
    readAtMs: T0,
    startedAtMs: STARTED,
    usageNanoCores: null,
    usageCoreNanoSeconds: 100e9,
    workingSetBytes: 52_428_800,
    network: null,
    pids: null,
    ...overrides,
  };
}

interface SampleInput {
  reading: KubernetesContainerReading;
  /** This container's previous reading; undefined on its first sample. */
  previous: KubernetesContainerReading | undefined;
  limits: ContainerLimits;
  onlineCpus: number | null;
  source: StatsSource;
}

const DEFAULTS: Omit<SampleInput, "reading"> = {
  previous: undefined,
  limits: { memLimitBytes: 268_435_456, cpuLimitCores: 0.5 },
  onlineCpus: 4,
  source: "kubelet_summary",
};

/** The reading the Kubernetes runtime hands the sampling core. */
function asRead(
  kubernetesReading: KubernetesContainerReading,
  input: Omit<SampleInput, "reading" | "previous"> = DEFAULTS,
): ContainerReading {
  return containerReading({
    container: { external_id: "shop/web-7d9f/app", name: "web-7d9f/app" },
    node: "node-a",
    reading: kubernetesReading,
    limits: input.limits,
    onlineCpus: input.onlineCpus,
    source: input.source,
  });
}

/** The sample the collector publishes for the reading after the previous one. */
function sample(overrides: Partial<SampleInput>) {
  const input: SampleInput = { ...DEFAULTS, reading: reading(), ...overrides };
  const message = buildStatsSample({
    host: "node-a",
    runtime: "kubernetes",
    reading: asRead(input.reading, input),
    previous: input.previous === undefined ? undefined : asRead(input.previous, input),
  });
  // Every sample must pass the contract the bus enforces.
  expect(codecs.stats.encode(message).ok).toBe(true);
  return message;
}

describe("a Kubernetes reading's sample", () => {
  it("maps a summary reading to Docker's fields and units", () => {
    expect(
      sample({
        reading: reading({
          usageNanoCores: 500_000_000,
          network: { readAtMs: T0, rxBytes: 1000, txBytes: 2000 },
          pids: 3,
        }),
      }),
    ).toEqual({
      v: 1,
      host: "node-a",
      runtime: "kubernetes",
      container: { external_id: "shop/web-7d9f/app", name: "web-7d9f/app" },
      ts: "2026-11-21T21:00:00.000Z",
      interval_ms: null,
      // The first reading of a counter gives no CPU; the kubelet's rate is not used beside one.
      cpu_percent: null,
      online_cpus: 4,
      cpu_limit_cores: 0.5,
      mem_used: 52_428_800,
      mem_limit: 268_435_456,
      net_rx_bytes: 1000,
      net_tx_bytes: 2000,
      net_rx_bytes_per_s: null,
      net_tx_bytes_per_s: null,
      blk_read_bytes: null,
      blk_write_bytes: null,
      blk_read_bytes_per_s: null,
      blk_write_bytes_per_s: null,
      pids: 3,
      source: "kubelet_summary",
    });
  });

  it("computes CPU from the cumulative counter's delta when the kubelet gives no rate", () => {
    const previous = reading();
    // 2.5 s of CPU in 10 s: a quarter of a core.
    const current = reading({ readAtMs: T0 + 10_000, usageCoreNanoSeconds: 102.5e9 });
    const message = sample({ previous, reading: current });
    expect(message.cpu_percent).toBeCloseTo(25, 10);
    expect(message.interval_ms).toBe(10_000);
  });

  it("computes CPU from the counter even when the kubelet gives its own rate", () => {
    // The kubelet's rate is over the window since whichever client asked it last: 3 cores here,
    // where the counter grew by 10 s of CPU in 10 s.
    const message = sample({
      previous: reading({ usageNanoCores: 500_000_000 }),
      reading: reading({ readAtMs: T0 + 10_000, usageCoreNanoSeconds: 110e9, usageNanoCores: 3_000_000_000 }),
    });
    expect(message.cpu_percent).toBeCloseTo(100, 10);
  });

  it("has no CPU value on the first sample even when the kubelet gives a rate, when it gives a counter", () => {
    expect(sample({ reading: reading({ usageNanoCores: 2_000_000_000 }) }).cpu_percent).toBeNull();
  });

  it("takes the kubelet's own rate where there is no counter (metrics.k8s.io)", () => {
    const message = sample({
      reading: reading({ usageCoreNanoSeconds: null, usageNanoCores: 2_000_000_000 }),
      source: "metrics_api",
    });
    expect(message.cpu_percent).toBe(200);
  });

  it("has no CPU value on the first sample without a rate", () => {
    expect(sample({}).cpu_percent).toBeNull();
  });

  it("has no CPU value, interval or rates when the counter went backwards (a restart)", () => {
    const previous = reading({ network: { readAtMs: T0, rxBytes: 5000, txBytes: 5000 } });
    const current = reading({
      readAtMs: T0 + 10_000,
      usageCoreNanoSeconds: 1e9,
      network: { readAtMs: T0 + 10_000, rxBytes: 6000, txBytes: 6000 },
    });
    expect(isRestart(asRead(previous), asRead(current))).toBe(true);
    const message = sample({ previous, reading: current });
    expect(message.cpu_percent).toBeNull();
    expect(message.interval_ms).toBeNull();
    expect(message.net_rx_bytes_per_s).toBeNull();
    expect(message.net_rx_bytes).toBe(6000);
  });

  it("treats a new start time as a restart even when the counter happens to be higher", () => {
    const previous = reading();
    const current = reading({ readAtMs: T0 + 10_000, startedAtMs: T0 + 5000, usageCoreNanoSeconds: 200e9 });
    expect(isRestart(asRead(previous), asRead(current))).toBe(true);
    expect(sample({ previous, reading: current }).cpu_percent).toBeNull();
  });

  it("computes network rates over the network counters' own read times", () => {
    const previous = reading({ network: { readAtMs: T0, rxBytes: 10_000, txBytes: 1_000 } });
    const current = reading({
      readAtMs: T0 + 10_000,
      usageCoreNanoSeconds: 101e9,
      network: { readAtMs: T0 + 8000, rxBytes: 18_000, txBytes: 1_000 },
    });
    const message = sample({ previous, reading: current });
    expect(message.net_rx_bytes_per_s).toBe(1000);
    expect(message.net_tx_bytes_per_s).toBe(0);
  });

  it("gives no rate when a counter went backwards or did not advance in time", () => {
    const previous = reading({ network: { readAtMs: T0, rxBytes: 10_000, txBytes: 1_000 } });
    const current = reading({
      readAtMs: T0 + 10_000,
      usageCoreNanoSeconds: 101e9,
      network: { readAtMs: T0, rxBytes: 9_000, txBytes: 2_000 },
    });
    const message = sample({ previous, reading: current });
    expect(message.net_rx_bytes_per_s).toBeNull();
    expect(message.net_tx_bytes_per_s).toBeNull();
  });

  it("publishes unknown figures as null, and marks metrics.k8s.io samples", () => {
    const message = sample({
      reading: reading({
        usageNanoCores: 12_345,
        usageCoreNanoSeconds: null,
        startedAtMs: null,
        workingSetBytes: null,
      }),
      limits: { memLimitBytes: null, cpuLimitCores: null },
      onlineCpus: null,
      source: "metrics_api",
    });
    expect(message).toMatchObject({
      cpu_percent: 0.0012345,
      mem_used: null,
      mem_limit: null,
      cpu_limit_cores: null,
      online_cpus: null,
      net_rx_bytes: null,
      pids: null,
      source: "metrics_api",
    });
  });
});
