import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { summary, summaryNode, summaryPod } from "./fixtures/summary-fixtures.ts";
import { narrowReadTime, readSummary } from "./summary-reading.ts";

const TIME = "2026-11-21T21:00:10Z";
const T = Date.parse(TIME);

function read(raw: unknown) {
  const result = readSummary(raw);
  if (!result.ok) throw new Error(result.detail);
  return result.reading;
}

describe("readSummary", () => {
  it("reads every container, the pod's network over all interfaces and its process count", () => {
    const reading = read(
      summary({ time: TIME, usageNanoCores: 700_000_000, availableBytes: 5e9, workingSetBytes: 3e9 }, [
        {
          namespace: "shop",
          name: "web-7d9f",
          uid: "u-1",
          time: TIME,
          containers: [
            {
              name: "app",
              time: TIME,
              usageNanoCores: 500_000_000,
              usageCoreNanoSeconds: 9e9,
              workingSetBytes: 52_428_800,
            },
            { name: "proxy", time: TIME, usageNanoCores: 10_000_000, workingSetBytes: 8_388_608 },
          ],
          interfaces: [
            { name: "eth0", rxBytes: 1000, txBytes: 2000 },
            { name: "eth1", rxBytes: 5, txBytes: 7 },
          ],
          processCount: 4,
        },
      ]),
    );
    expect(reading.problems).toEqual([]);
    expect(reading.node).toEqual({
      nodeName: "node-a",
      readAtMs: T,
      usageNanoCores: 700_000_000,
      usageCoreNanoSeconds: null,
      memoryAvailableBytes: 5e9,
      memoryWorkingSetBytes: 3e9,
    });
    expect(reading.pods).toEqual([
      {
        namespace: "shop",
        name: "web-7d9f",
        uid: "u-1",
        containers: [
          {
            name: "app",
            readAtMs: T,
            startedAtMs: Date.parse("2026-11-21T20:00:00Z"),
            usageNanoCores: 500_000_000,
            usageCoreNanoSeconds: 9e9,
            workingSetBytes: 52_428_800,
          },
          {
            name: "proxy",
            readAtMs: T,
            startedAtMs: Date.parse("2026-11-21T20:00:00Z"),
            usageNanoCores: 10_000_000,
            usageCoreNanoSeconds: null,
            workingSetBytes: 8_388_608,
          },
        ],
        network: { readAtMs: T, rxBytes: 1005, txBytes: 2007 },
        processCount: 4,
      },
    ]);
  });

  it("takes the top-level counters when the network section lists no interfaces", () => {
    const pod = summaryPod({
      namespace: "ns",
      name: "p",
      uid: "u",
      time: TIME,
      containers: [],
      interfaces: [{ name: "eth0", rxBytes: 11, txBytes: 22 }],
    });
    (pod.network as Record<string, unknown>).interfaces = undefined;
    expect(read({ node: summaryNode({ time: TIME }), pods: [pod] }).pods[0]?.network).toEqual({
      readAtMs: T,
      rxBytes: 11,
      txBytes: 22,
    });
  });

  it("gives no network sum when one interface lacks its counter (a partial sum would be wrong)", () => {
    const pod = summaryPod({
      namespace: "ns",
      name: "p",
      uid: "u",
      time: TIME,
      containers: [],
      interfaces: [
        { name: "eth0", rxBytes: 11, txBytes: 22 },
        { name: "eth1", rxBytes: 1, txBytes: 2 },
      ],
    });
    const interfaces = (pod.network as { interfaces: Record<string, unknown>[] }).interfaces;
    (interfaces[1] as Record<string, unknown>).rxBytes = "lots";
    expect(read({ node: summaryNode({ time: TIME }), pods: [pod] }).pods[0]?.network).toEqual({
      readAtMs: T,
      rxBytes: null,
      txBytes: 24,
    });
  });

  it("rejects only an answer that is not an object", () => {
    for (const raw of [null, "404 page not found", [], 42]) {
      expect(readSummary(raw)).toEqual({ ok: false, detail: "summary is not a JSON object" });
    }
  });

  it("skips what it cannot read, says what, and keeps the rest", () => {
    const good = summaryPod({
      namespace: "ns",
      name: "good",
      uid: "u-good",
      time: TIME,
      containers: [{ name: "app", time: TIME, workingSetBytes: 1024 }],
    });
    const reading = read({
      pods: [
        { containers: [] },
        { podRef: { namespace: "ns", name: "" } },
        "not a pod",
        {
          podRef: { namespace: "ns", name: "odd", uid: "u-odd" },
          containers: [
            { cpu: { time: TIME } },
            { name: "timeless", cpu: { usageNanoCores: 5 }, memory: { workingSetBytes: 1 } },
            {
              name: "garbled",
              cpu: { time: "yesterday", usageNanoCores: -3 },
              memory: { time: TIME, workingSetBytes: "1Mi" },
            },
          ],
          network: { time: "not a time", rxBytes: 1 },
        },
        good,
      ],
    });
    expect(reading.node).toBeNull();
    expect(reading.problems).toEqual([
      "no `node` section",
      "pods[0] has no podRef namespace and name; skipped",
      "pods[1] has no podRef namespace and name; skipped",
      "pods[2] has no podRef namespace and name; skipped",
      "ns/odd containers[0]: no name; skipped",
      "ns/odd containers[1]: timeless has no usable cpu.time or memory.time; skipped",
    ]);
    expect(reading.pods.map((pod) => pod.name)).toEqual(["odd", "good"]);
    // The garbled container keeps its memory read time; its nonsense figures are unknown, not zero.
    expect(reading.pods[0]?.containers).toEqual([
      {
        name: "garbled",
        readAtMs: T,
        startedAtMs: null,
        usageNanoCores: null,
        usageCoreNanoSeconds: null,
        workingSetBytes: null,
      },
    ]);
    expect(reading.pods[0]?.network).toBeNull();
    expect(reading.pods[1]?.containers[0]?.workingSetBytes).toBe(1024);
  });

  it("notes a `pods` that is not a list, and reads the node anyway", () => {
    const reading = read({ node: summaryNode({ time: TIME, usageNanoCores: 1 }), pods: { a: 1 } });
    expect(reading.problems).toEqual(["`pods` is not a list"]);
    expect(reading.node?.usageNanoCores).toBe(1);
  });
});

/**
 * Verbatim `/stats/summary` answers of the test cluster's real kubelet (test/infra/kubernetes:
 * v1.20.2 from Debian's 1.20.5+really1.20.2 source, on containerd 1.6.20's CRI plugin, cgroup
 * v1, 2 cores), read through the API server's node proxy.
 */
function capturedSummary(name: "first-reading" | "steady"): unknown {
  return JSON.parse(
    readFileSync(new URL(`./fixtures/kubelet-v1.20.2-summary-${name}.json`, import.meta.url), "utf8"),
  );
}

describe("narrowReadTime", () => {
  it("pins a whole-second time read during the request to the request's part of that second", () => {
    // The kubelet wrote 21:00:10 for a reading taken while the request was out, 10.420–10.480.
    expect(narrowReadTime(T, { sentAtMs: T + 420, answeredAtMs: T + 480 })).toBe(T + 450);
    // A request that started in the second before: only its part inside the second counts.
    expect(narrowReadTime(T, { sentAtMs: T - 300, answeredAtMs: T + 100 })).toBe(T + 50);
    // A request that ended in the next second.
    expect(narrowReadTime(T, { sentAtMs: T + 900, answeredAtMs: T + 1300 })).toBe(T + 950);
  });

  it("keeps a time the request cannot have read (a cached reading) as written", () => {
    expect(narrowReadTime(T, { sentAtMs: T + 3000, answeredAtMs: T + 3050 })).toBe(T);
    expect(narrowReadTime(T, { sentAtMs: T - 2000, answeredAtMs: T - 1 })).toBe(T);
  });

  it("keeps a time given below the second, and any time when the request's window is unknown", () => {
    expect(narrowReadTime(T + 123, { sentAtMs: T, answeredAtMs: T + 500 })).toBe(T + 123);
    expect(narrowReadTime(T, undefined)).toBe(T);
  });

  it("narrows the containers' and the pod network's times of a summary, not the node's", () => {
    const asked = { sentAtMs: T + 200, answeredAtMs: T + 260 };
    const result = readSummary(
      summary({ time: TIME, usageNanoCores: 1, availableBytes: 1, workingSetBytes: 1 }, [
        {
          namespace: "shop",
          name: "web",
          uid: "u-1",
          time: TIME,
          containers: [{ name: "app", time: TIME, usageCoreNanoSeconds: 1, workingSetBytes: 1 }],
          interfaces: [{ name: "eth0", rxBytes: 1, txBytes: 1 }],
        },
      ]),
      asked,
    );
    if (!result.ok) throw new Error(result.detail);
    const [pod] = result.reading.pods;
    expect(pod?.containers[0]?.readAtMs).toBe(T + 230);
    expect(pod?.network?.readAtMs).toBe(T + 230);
    // The node's figures come from cAdvisor's cache and its rate is used as it is.
    expect(result.reading.node?.readAtMs).toBe(T);
  });
});

describe("readSummary on a real kubelet's summaries (v1.20.2, containerd 1.6)", () => {
  it("reads a container's first reading: a CPU counter but no rate yet, and a pod without a network section", () => {
    // Taken 13 s after the pod was created: the kubelet computes a container's rate from two
    // CRI readings, so the first has none; on containerd the pod's network is not reported.
    const reading = read(capturedSummary("first-reading"));
    expect(reading.problems).toEqual([]);
    expect(reading.node).toEqual({
      nodeName: "vm",
      readAtMs: Date.parse("2026-12-05T20:08:12Z"),
      usageNanoCores: 1_999_007_848,
      usageCoreNanoSeconds: 2_078_128_507_882,
      memoryAvailableBytes: 20_068_761_600,
      memoryWorkingSetBytes: 5_207_396_352,
    });
    expect(reading.pods).toEqual([
      {
        namespace: "kubelet-by-hand",
        name: "hello",
        uid: "404c6f34-346c-454b-9352-73b9cc3f8274",
        containers: [
          {
            name: "app",
            readAtMs: Date.parse("2026-12-05T20:08:17Z"),
            startedAtMs: Date.parse("2026-12-05T20:08:04Z"),
            usageNanoCores: null,
            usageCoreNanoSeconds: 103_544_657,
            workingSetBytes: 749_568,
          },
        ],
        network: null,
        processCount: 0,
      },
    ]);
  });

  it("reads a steady pod: each container's rate, counter and working set at its own time", () => {
    // Half a minute later: `app` burns its 200m CPU limit and holds a 24 MiB /dev/shm ballast,
    // `idle` sleeps.
    const reading = read(capturedSummary("steady"));
    expect(reading.problems).toEqual([]);
    expect(reading.node).toMatchObject({ nodeName: "vm", readAtMs: Date.parse("2026-12-05T20:34:05Z") });
    expect(reading.pods).toEqual([
      {
        namespace: "kubelet-by-hand",
        name: "burner",
        uid: "e3b39edd-4eab-4fe9-827b-c7461076790a",
        containers: [
          {
            name: "app",
            readAtMs: Date.parse("2026-12-05T20:34:08Z"),
            startedAtMs: Date.parse("2026-12-05T20:33:38Z"),
            usageNanoCores: 199_904_988,
            usageCoreNanoSeconds: 5_954_198_442,
            workingSetBytes: 25_468_928,
          },
          {
            name: "idle",
            readAtMs: Date.parse("2026-12-05T20:34:07Z"),
            startedAtMs: Date.parse("2026-12-05T20:33:38Z"),
            usageNanoCores: 0,
            usageCoreNanoSeconds: 50_526_874,
            workingSetBytes: 217_088,
          },
        ],
        network: null,
        processCount: 0,
      },
    ]);
  });
});
