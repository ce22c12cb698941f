import { describe, expect, it } from "vitest";
import { podMetricsList } from "./fixtures/summary-fixtures.ts";
import { readPodMetricsList } from "./metrics-api-reading.ts";

const TIME = "2026-11-21T21:00:30Z";

describe("readPodMetricsList", () => {
  it("reads each container's CPU in nanocores and working set in bytes", () => {
    const result = readPodMetricsList(
      podMetricsList([
        {
          namespace: "shop",
          name: "web-7d9f",
          timestamp: TIME,
          containers: [
            { name: "app", cpu: "250000000n", memory: "65536Ki" },
            { name: "proxy", cpu: "2m", memory: "8Mi" },
          ],
        },
      ]),
    );
    expect(result).toEqual({
      ok: true,
      problems: [],
      pods: [
        {
          namespace: "shop",
          name: "web-7d9f",
          readAtMs: Date.parse(TIME),
          containers: [
            { name: "app", usageNanoCores: 250_000_000, workingSetBytes: 67_108_864 },
            { name: "proxy", usageNanoCores: 2_000_000, workingSetBytes: 8_388_608 },
          ],
        },
      ],
    });
  });

  it("skips what it cannot read, says what, and keeps the rest", () => {
    const list = podMetricsList([
      {
        namespace: "shop",
        name: "ok",
        timestamp: TIME,
        containers: [{ name: "app", cpu: "lots", memory: "-1Mi" }],
      },
      { namespace: "shop", name: "timeless", timestamp: "soon", containers: [] },
    ]);
    (list.items as unknown[]).push({ metadata: { name: "no-namespace" } });
    const result = readPodMetricsList(list);
    expect(result).toEqual({
      ok: true,
      problems: [
        "shop/timeless has no usable timestamp; skipped",
        "items[2] has no metadata namespace and name; skipped",
      ],
      pods: [
        {
          namespace: "shop",
          name: "ok",
          readAtMs: Date.parse(TIME),
          containers: [{ name: "app", usageNanoCores: null, workingSetBytes: null }],
        },
      ],
    });
  });

  it("rejects an answer that is not a list", () => {
    expect(readPodMetricsList({ kind: "Status", code: 404 }).ok).toBe(false);
    expect(readPodMetricsList("404 page not found").ok).toBe(false);
  });
});
