import type {
  CriContainer,
  CriContainerStats,
  CriContainerStatus,
  CriPodSandbox,
} from "@crowsnest/shared/cri";
import { describe, expect, it } from "vitest";
import type { ContainerFileReader, FileReadResult } from "../../cgroup/cgroup-stats-reader.ts";
import type { ContainerReading } from "../../core/container-reading.ts";
import type { SamplingTick } from "../../core/stats-runtime.ts";
import { captureLogger } from "../../fixtures/capture-logger.ts";
import { type CriProcess, CriStatsRuntime } from "./cri-stats-runtime.ts";

const sandbox: CriPodSandbox = {
  id: "s0",
  name: "web-1",
  uid: "uid-1",
  namespace: "shop",
  attempt: 0,
  state: "ready",
  createdAtNano: 1n,
  labels: {},
  annotations: {},
};

const listed = (
  id: string,
  name: string,
  state: CriContainer["state"] = "running",
  attempt = 0,
): CriContainer => ({
  id,
  podSandboxId: "s0",
  name,
  attempt,
  image: "busybox:1",
  imageRef: "",
  state,
  createdAtNano: 2n,
  labels: {},
  annotations: {},
});

const status = (id: string, startedAtNano: bigint): CriContainerStatus => ({
  id,
  name: "",
  attempt: 0,
  state: "running",
  createdAtNano: 2n,
  startedAtNano,
  finishedAtNano: undefined,
  exitCode: 0,
  image: "busybox:1",
  imageRef: "",
  reason: "",
  message: "",
  labels: {},
  annotations: {},
  logPath: "",
  resources: { cpuPeriod: 100_000, cpuQuota: 50_000, cpuShares: 0, memoryLimitBytes: 64 * 1024 * 1024 },
  info: {},
});

const stats = (id: string, name: string, usageNs: number, atMs: number): CriContainerStats => ({
  id,
  name,
  attempt: 0,
  labels: {},
  cpu: {
    timestampNano: BigInt(atMs) * 1_000_000n,
    usageCoreNanoSeconds: usageNs,
    usageNanoCores: 123,
  },
  memory: { timestampNano: BigInt(atMs) * 1_000_000n, workingSetBytes: 1000, usageBytes: 2000 },
});

function fakeCri() {
  const cri = {
    containers: [] as CriContainer[],
    stats: [] as CriContainerStats[],
    statuses: new Map<string, CriContainerStatus>(),
    lists: 0,
    statsCalls: 0,
    network: { rx: 10, tx: 20 },
  };
  const port = {
    negotiate: async () => ({ runtimeName: "fake", runtimeVersion: "1", runtimeApiVersion: "v1" }),
    podSandboxes: async () => {
      cri.lists += 1;
      return [sandbox];
    },
    containers: async () => cri.containers,
    containerStatus: async (id: string) => cri.statuses.get(id),
    containerStats: async () => {
      cri.statsCalls += 1;
      return cri.stats;
    },
    podSandboxStats: async () => [
      {
        id: "s0",
        network: {
          timestampNano: 5_000_000n,
          interfaces: [
            { name: "eth0", rxBytes: cri.network.rx, txBytes: cri.network.tx },
            { name: "lo", rxBytes: 99, txBytes: 99 },
          ],
        },
      },
    ],
  };
  return { cri, port };
}

/** A tick that keeps each reading as the container's previous one, as the core does. */
function tickOf(previous: Map<string, ContainerReading>, published: ContainerReading[][]): SamplingTick {
  return {
    stopping: false,
    counts: { published: 0, unpublished: 0, unchanged: 0, failed: 0, gone: 0 },
    previous: (id) => previous.get(id),
    async publish(readouts) {
      const readings = (await Promise.all(readouts)).filter((r): r is ContainerReading => "container" in r);
      for (const reading of readings) previous.set(reading.container.external_id, reading);
      published.push(readings);
    },
    retain: () => undefined,
    publishHost: () => true,
  };
}

describe("CriStatsRuntime", () => {
  it("reads each running container as namespace/pod/container with its limits, the CPU counter, and the pod's network on one container", async () => {
    const { cri, port } = fakeCri();
    cri.containers = [listed("a", "web"), listed("b", "sidecar")];
    cri.statuses.set("a", status("a", 1_000_000_000n));
    cri.statuses.set("b", status("b", 1_000_000_000n));
    cri.stats = [stats("a", "web", 5000, 2000), stats("b", "sidecar", 7000, 2000)];
    const runtime = new CriStatsRuntime({
      cri: port,
      timeoutMs: 1000,
      listMaxAgeMs: 60_000,
      logger: captureLogger().logger,
    });
    const published: ContainerReading[][] = [];
    const tick = tickOf(new Map(), published);
    await runtime.sample(tick);
    // The pod's network is read beside the ticks: the next tick has it.
    await new Promise((resolve) => setImmediate(resolve));
    const detail = await runtime.sample(tick);
    const readings = published.at(-1) ?? [];
    expect(readings.map((reading) => reading.container.external_id)).toEqual([
      "shop/web-1/web",
      "shop/web-1/sidecar",
    ]);
    expect(readings[0]).toMatchObject({
      readAtMs: 2000,
      startedAtMs: 1000,
      restarted: false,
      // The counter, not the runtime's own rate over another client's window.
      cpu: { clock: "wall", usageNs: 5000, nanoCores: null },
      memUsedBytes: 1000,
      limits: { memLimitBytes: 64 * 1024 * 1024, cpuLimitCores: 0.5 },
      blkReadBytes: null,
      pids: null,
    });
    // The first container by name holds the pod's network (every interface but lo).
    expect(readings.find((r) => r.container.external_id === "shop/web-1/sidecar")?.network).toEqual({
      readAtMs: 5,
      rxBytes: 10,
      txBytes: 20,
    });
    expect(readings.find((r) => r.container.external_id === "shop/web-1/web")?.network).toBeNull();
    expect(detail).toMatchObject({ criReachable: true, containers: 2, podNetwork: true });
    expect(runtime.connected).toBe(true);
  });

  it("lists again only for a container it does not know, not for stopped ones the stats still name", async () => {
    const { cri, port } = fakeCri();
    cri.containers = [listed("a", "web"), listed("old", "web", "exited")];
    cri.statuses.set("a", status("a", 1_000_000_000n));
    cri.stats = [stats("a", "web", 5000, 2000), stats("old", "web", 100, 2000)];
    const runtime = new CriStatsRuntime({
      cri: port,
      timeoutMs: 1000,
      listMaxAgeMs: 60_000,
      logger: captureLogger().logger,
    });
    const published: ContainerReading[][] = [];
    const tick = tickOf(new Map(), published);
    await runtime.sample(tick);
    await runtime.sample(tick);
    expect(cri.lists).toBe(1);
    expect(published.at(-1)?.map((reading) => reading.container.external_id)).toEqual(["shop/web-1/web"]);

    // The container's next run: a new CRI container under the same name, another start time.
    cri.containers = [listed("a", "web", "exited"), listed("a2", "web", "running", 1)];
    cri.statuses.set("a2", status("a2", 9_000_000_000n));
    cri.stats = [stats("a2", "web", 10, 3000)];
    await runtime.sample(tick);
    expect(cri.lists).toBe(2);
    expect(published.at(-1)?.[0]).toMatchObject({ startedAtMs: 9000, restarted: true });
  });

  it("is not connected when the runtime cannot be asked, and says so once", async () => {
    const { port } = fakeCri();
    const { logger, lines } = captureLogger();
    const failing = { ...port, containerStats: async () => Promise.reject(new Error("socket closed")) };
    const runtime = new CriStatsRuntime({ cri: failing, timeoutMs: 1000, listMaxAgeMs: 60_000, logger });
    const tick = tickOf(new Map(), []);
    expect(await runtime.sample(tick)).toMatchObject({ criReachable: false });
    await runtime.sample(tick);
    expect(runtime.connected).toBe(false);
    expect(lines.filter((line) => line.level === "warn")).toHaveLength(1);
  });

  describe("with the cgroup fast path", () => {
    /** containerd's verbose info: the runtime spec with the container's cgroup, and its pid. */
    const verbose = (id: string, cgroupsPath: string | undefined): CriContainerStatus => ({
      ...status(id, 1_000_000_000n),
      resources: undefined,
      info: {
        info: JSON.stringify({
          pid: 4242,
          runtimeSpec: {
            linux: {
              ...(cgroupsPath === undefined ? {} : { cgroupsPath }),
              resources: { memory: { limit: 32 * 1024 * 1024 } },
            },
          },
        }),
      },
    });

    /** A file reader whose readings the test sets per container; it records what it was asked. */
    function fakeFiles() {
      const results = new Map<string, FileReadResult>();
      const asked: { key: string; process: CriProcess }[] = [];
      const files: ContainerFileReader<CriProcess> = {
        beginTick: () => ({ ok: true }),
        read: (key, process) => {
          asked.push({ key, process });
          return results.get(key) ?? { ok: false, detail: "no such cgroup" };
        },
        containerIds: () => undefined,
        cgroupEntries: () => undefined,
        retainOnly: () => undefined,
      };
      const counters = (cpuTotalNs: number, pids = 1): FileReadResult => ({
        ok: true,
        reading: {
          readAtMs: 7000,
          cpuTotalNs,
          systemCpuNs: 1,
          onlineCpus: 2,
          memUsedBytes: 3000,
          netRxBytes: null,
          netTxBytes: null,
          blkReadBytes: 11,
          blkWriteBytes: 12,
          pids,
        },
      });
      return { files, results, asked, counters };
    }

    it("reads running containers from the cgroup their runtime spec names, without ListContainerStats", async () => {
      const { cri, port } = fakeCri();
      cri.containers = [listed("a", "web"), listed("b", "sidecar"), listed("old", "web", "exited")];
      cri.statuses.set("a", verbose("a", "/kubepods/burstable/poduid-1/a"));
      cri.statuses.set("b", verbose("b", "kubepods-besteffort-poduid_1.slice:cri-containerd:b"));
      const { files, results, asked, counters } = fakeFiles();
      results.set("a", counters(5000));
      results.set("b", counters(7000));
      const runtime = new CriStatsRuntime({
        cri: port,
        timeoutMs: 1000,
        listMaxAgeMs: 60_000,
        logger: captureLogger().logger,
        files,
        onlineCpus: 4,
      });
      const published: ContainerReading[][] = [];
      const tick = tickOf(new Map(), published);
      await runtime.sample(tick);
      const detail = await runtime.sample(tick);
      expect(cri.statsCalls).toBe(0);
      expect(cri.lists).toBe(1);
      expect(detail).toMatchObject({ containers: 2, viaFiles: 2, viaStats: 0, listed: false });
      expect(asked.slice(0, 2)).toEqual([
        { key: "a", process: { cgroupPath: "kubepods/burstable/poduid-1/a", pid: 4242 } },
        {
          key: "b",
          process: {
            cgroupPath:
              "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-poduid_1.slice/cri-containerd-b.scope",
            pid: 4242,
          },
        },
      ]);
      expect(published.at(-1)?.[0]).toMatchObject({
        container: { external_id: "shop/web-1/web" },
        readAtMs: 7000,
        startedAtMs: 1000,
        cpu: { clock: "wall", usageNs: 5000, nanoCores: null },
        onlineCpus: 4,
        memUsedBytes: 3000,
        limits: { memLimitBytes: 32 * 1024 * 1024 },
        blkReadBytes: 11,
        pids: 1,
      });
    });

    it("reads through ListContainerStats the containers whose files fail or whose cgroup it does not know, and skips an emptied cgroup", async () => {
      const { cri, port } = fakeCri();
      cri.containers = [listed("a", "web"), listed("b", "sidecar"), listed("c", "cache"), listed("d", "db")];
      cri.statuses.set("a", verbose("a", "/pods/a"));
      cri.statuses.set("b", verbose("b", "/pods/b"));
      cri.statuses.set("c", verbose("c", undefined));
      cri.statuses.set("d", verbose("d", "/pods/d"));
      cri.stats = [stats("a", "web", 1, 2000), stats("b", "sidecar", 2, 2000), stats("c", "cache", 3, 2000)];
      const { files, results, counters } = fakeFiles();
      results.set("a", counters(5000));
      // b's files cannot be read; d's process has exited (its cgroup is empty).
      results.set("d", counters(9000, 0));
      const runtime = new CriStatsRuntime({
        cri: port,
        timeoutMs: 1000,
        listMaxAgeMs: 60_000,
        logger: captureLogger().logger,
        files,
      });
      const published: ContainerReading[][] = [];
      const detail = await runtime.sample(tickOf(new Map(), published));
      expect(cri.statsCalls).toBe(1);
      expect(detail).toMatchObject({ containers: 3, viaFiles: 1, viaStats: 2 });
      expect(
        published
          .at(-1)
          ?.map((reading) => [reading.container.external_id, reading.cpu.usageNs, reading.pids]),
      ).toEqual([
        ["shop/web-1/web", 5000, 1],
        ["shop/web-1/sidecar", 2, null],
        ["shop/web-1/cache", 3, null],
      ]);
    });
  });
});
