import { codecs } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { buildNodeHostSample, type NodeHostSampleInput } from "./node-host-sample.ts";
import type { SummaryNode } from "./summary-reading.ts";

const T0 = Date.parse("2026-11-21T21:00:00.000Z");
const GIB = 2 ** 30;

function node(overrides: Partial<SummaryNode> = {}): SummaryNode {
  return {
    nodeName: "node-a",
    readAtMs: T0,
    usageNanoCores: 1_000_000_000,
    usageCoreNanoSeconds: 5000e9,
    memoryAvailableBytes: 5 * GIB,
    memoryWorkingSetBytes: 3 * GIB,
    ...overrides,
  };
}

function build(overrides: Partial<NodeHostSampleInput>) {
  return buildNodeHostSample({
    host: "node-a",
    node: node(),
    previous: undefined,
    capacity: { onlineCpus: 4, memoryCapacityBytes: 8 * GIB },
    load: { load: [0.5, 0.75, 1], uptimeS: 3600.5 },
    ...overrides,
  });
}

describe("buildNodeHostSample", () => {
  it("maps the node section to the host sample Docker hosts publish", () => {
    const result = build({});
    expect(result).toEqual({
      ok: true,
      message: {
        v: 1,
        host: "node-a",
        ts: "2026-11-21T21:00:00.000Z",
        // One core busy of four.
        cpu_percent: 25,
        online_cpus: 4,
        mem_total: 8 * GIB,
        mem_used: 3 * GIB,
        mem_available: 5 * GIB,
        load_1: 0.5,
        load_5: 0.75,
        load_15: 1,
        uptime_s: 3600.5,
      },
    });
    if (result.ok) expect(codecs.hostStats.encode(result.message).ok).toBe(true);
  });

  it("computes CPU from the counter's delta when there is no rate, and none on the first sample", () => {
    const first = build({ node: node({ usageNanoCores: null }) });
    expect(first.ok && first.message.cpu_percent).toBeNull();
    // 20 s of CPU in 10 s on 4 CPUs: half of the node.
    const second = build({
      previous: node({ usageNanoCores: null }),
      node: node({ readAtMs: T0 + 10_000, usageNanoCores: null, usageCoreNanoSeconds: 5020e9 }),
    });
    expect(second.ok && second.message.cpu_percent).toBeCloseTo(50, 10);
    const backwards = build({
      previous: node({ usageNanoCores: null }),
      node: node({ readAtMs: T0 + 10_000, usageNanoCores: null, usageCoreNanoSeconds: 1e9 }),
    });
    expect(backwards.ok && backwards.message.cpu_percent).toBeNull();
  });

  it("derives the total from available + working set when the capacity is unknown", () => {
    const result = build({ capacity: { onlineCpus: 2, memoryCapacityBytes: null } });
    expect(result.ok && result.message).toMatchObject({
      mem_total: 8 * GIB,
      mem_used: 3 * GIB,
      online_cpus: 2,
    });
  });

  it("cannot build a sample without a CPU count, read time or memory figures", () => {
    expect(build({ capacity: undefined })).toEqual({
      ok: false,
      detail: "the node's CPU capacity is unknown",
    });
    expect(build({ node: node({ readAtMs: null }) })).toEqual({
      ok: false,
      detail: "the node section has no read time",
    });
    expect(
      build({
        node: node({ memoryAvailableBytes: null, memoryWorkingSetBytes: null }),
        capacity: { onlineCpus: 4, memoryCapacityBytes: null },
      }),
    ).toEqual({ ok: false, detail: "the node section has no memory figures" });
  });
});
