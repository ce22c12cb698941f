import { afterEach, describe, expect, it } from "vitest";
import { CgroupStatsReader } from "../../cgroup/cgroup-stats-reader.ts";
import type { StatsReading } from "../../cgroup/stats-counters.ts";
import { detectCgroupLayout } from "../../procfs/cgroup-layout.ts";
import {
  CGROUP_V1_ROOTS,
  CGROUP_V2_ROOTS,
  cgroupV1Files,
  cgroupV2Files,
  type FileTree,
  fileTree,
  netDev,
  procStat,
} from "../../procfs/fixtures/file-tree.ts";
import type { ContainerProcess } from "./container-process.ts";
import { dockerCgroupNaming } from "./file-reader-setup.ts";
import { cgroupV1Stats, cgroupV2Stats, type FixtureCounters } from "./fixtures/docker-stats-fixtures.ts";
import { readDockerStats } from "./stats-reading.ts";

const ID = "77d442b90627ae51ef8ed7c4cc05d0e0835cfbe8bc4ead991f65a563cd9cea6e";
const PID = 10009;
const READ_AT = Date.parse("2026-11-21T20:51:40.361Z");

const COUNTERS: FixtureCounters = {
  read: "2026-11-21T20:51:40.361048889Z",
  cpuTotalNs: 12_734_418_890,
  systemCpuNs: 1_054_440_000_000,
  memUsageBytes: 21_577_728,
  inactiveFileBytes: 19_922_944,
  rxBytes: 626,
  txBytes: 0,
  blkReadBytes: 4096,
  blkWriteBytes: 65_536,
  pids: 2,
};

const trees: FileTree[] = [];
afterEach(() => {
  for (const tree of trees.splice(0)) tree.cleanup();
});

function host(cgroupFiles: Record<string, string>, proc: Record<string, string>) {
  const cgroup = fileTree(cgroupFiles);
  const procTree = fileTree(proc);
  trees.push(cgroup, procTree);
  const detected = detectCgroupLayout(cgroup.root);
  if (!detected.ok) throw new Error(detected.reason);
  const reader = new CgroupStatsReader({
    layout: detected.layout,
    naming: dockerCgroupNaming,
    procRoot: procTree.root,
    now: () => READ_AT,
  });
  return { reader, cgroup, proc: procTree };
}

function processFiles(pid: number, cgroupLine: string, net: string): Record<string, string> {
  return { [`${pid}/cgroup`]: cgroupLine, [`${pid}/net/dev`]: net };
}

const bridged: ContainerProcess = { pid: PID, networkMode: "bridge", cgroupParent: null };

function apiReading(raw: unknown): StatsReading {
  const read = readDockerStats(raw);
  if (!read.ok) throw new Error(read.detail);
  return read.reading;
}

function fileReading(
  reader: CgroupStatsReader<ContainerProcess>,
  id: string,
  process: ContainerProcess,
): StatsReading {
  expect(reader.beginTick()).toEqual({ ok: true });
  const result = reader.read(id, process);
  if (!result.ok) throw new Error(result.detail);
  return result.reading;
}

describe("CgroupStatsReader on cgroup v1", () => {
  it("reads the same counters the API reports for the same container (cgroupfs driver)", () => {
    const { reader } = host(
      { ...CGROUP_V1_ROOTS, ...cgroupV1Files(`docker/${ID}`, COUNTERS) },
      {
        stat: procStat(COUNTERS.systemCpuNs, 2),
        ...processFiles(
          PID,
          `4:memory:/docker/${ID}\n1:cpu:/docker/${ID}\n`,
          netDev({ eth0: { rx: 626, tx: 0 } }),
        ),
      },
    );
    expect(fileReading(reader, ID, bridged)).toEqual({
      ...apiReading(cgroupV1Stats(COUNTERS)),
      readAtMs: READ_AT,
    });
  });

  it("finds the container under the systemd driver's scope", () => {
    const { reader } = host(
      { ...CGROUP_V1_ROOTS, ...cgroupV1Files(`system.slice/docker-${ID}.scope`, COUNTERS) },
      {
        stat: procStat(COUNTERS.systemCpuNs, 2),
        ...processFiles(
          PID,
          `1:cpu:/system.slice/docker-${ID}.scope\n`,
          netDev({ eth0: { rx: 626, tx: 0 } }),
        ),
      },
    );
    expect(fileReading(reader, ID, bridged)).toMatchObject({ cpuTotalNs: COUNTERS.cpuTotalNs, pids: 2 });
  });

  it("prefers the CFQ scheduler's recursive counters when they list devices, as containerd does", () => {
    const { reader, cgroup } = host(
      { ...CGROUP_V1_ROOTS, ...cgroupV1Files(`docker/${ID}`, COUNTERS) },
      { stat: procStat(COUNTERS.systemCpuNs, 2) },
    );
    const none: ContainerProcess = { pid: null, networkMode: "none", cgroupParent: null };
    cgroup.write(`blkio/docker/${ID}/blkio.io_service_bytes_recursive`, "Total 0\n");
    expect(fileReading(reader, ID, none)).toMatchObject({ blkReadBytes: 4096, blkWriteBytes: 65_536 });
    cgroup.write(`blkio/docker/${ID}/blkio.io_service_bytes_recursive`, "8:0 Read 1\n8:0 Write 2\nTotal 3\n");
    expect(fileReading(reader, ID, none)).toMatchObject({ blkReadBytes: 1, blkWriteBytes: 2 });
  });

  it("has no network figures where dockerd has none: no network, the host's, or another container's", () => {
    const { reader } = host(
      { ...CGROUP_V1_ROOTS, ...cgroupV1Files(`docker/${ID}`, COUNTERS) },
      { stat: procStat(COUNTERS.systemCpuNs, 2) },
    );
    for (const networkMode of ["none", "host", "container:0123abcd"]) {
      // No PID needed, and none visible: these are still read from files.
      expect(fileReading(reader, ID, { pid: null, networkMode, cgroupParent: null })).toMatchObject({
        netRxBytes: null,
        netTxBytes: null,
        cpuTotalNs: COUNTERS.cpuTotalNs,
      });
    }
  });

  it("refuses, rather than guesses, when the container's files or process are not there", () => {
    const { reader, proc, cgroup } = host(
      { ...CGROUP_V1_ROOTS, ...cgroupV1Files(`docker/${ID}`, COUNTERS) },
      {
        stat: procStat(COUNTERS.systemCpuNs, 2),
        // PID 777 in this /proc belongs to some other container: another PID namespace's numbering.
        ...processFiles(777, "1:cpu:/docker/0000other\n", netDev({ eth0: { rx: 1, tx: 1 } })),
      },
    );
    reader.beginTick();
    expect(reader.read("unknown", bridged)).toMatchObject({
      ok: false,
      detail: expect.stringContaining("no cgroup"),
    });
    expect(reader.read(ID, { ...bridged, pid: null })).toMatchObject({
      ok: false,
      detail: expect.stringContaining("no PID"),
    });
    expect(reader.read(ID, bridged)).toMatchObject({ ok: false, detail: expect.stringContaining(`${PID}`) });
    expect(reader.read(ID, { ...bridged, pid: 777 })).toMatchObject({
      ok: false,
      detail: expect.stringContaining("not a process of this container"),
    });

    // The container went away between the list and the read.
    proc.write(`${PID}/cgroup`, `1:cpu:/docker/${ID}\n`);
    proc.write(`${PID}/net/dev`, netDev({ eth0: { rx: 1, tx: 1 } }));
    expect(reader.read(ID, bridged)).toMatchObject({ ok: true });
    cgroup.remove(`memory/docker/${ID}`);
    expect(reader.read(ID, bridged)).toMatchObject({ ok: false, detail: expect.stringContaining("memory") });
  });

  it("cannot read anything without the host's /proc/stat, the clock of every CPU percentage", () => {
    const { reader } = host({ ...CGROUP_V1_ROOTS, ...cgroupV1Files(`docker/${ID}`, COUNTERS) }, {});
    expect(reader.beginTick()).toMatchObject({ ok: false, detail: expect.stringContaining("stat") });
    expect(reader.read(ID, bridged)).toMatchObject({ ok: false });
  });

  it("makes a garbled value unknown, not the whole reading", () => {
    const { reader, cgroup } = host(
      { ...CGROUP_V1_ROOTS, ...cgroupV1Files(`docker/${ID}`, COUNTERS) },
      { stat: procStat(COUNTERS.systemCpuNs, 2) },
    );
    cgroup.write(`memory/docker/${ID}/memory.stat`, "total_inactive_file lots\n");
    cgroup.write(`pids/docker/${ID}/pids.current`, "max\n");
    expect(fileReading(reader, ID, { pid: null, networkMode: "none", cgroupParent: null })).toMatchObject({
      memUsedBytes: null,
      pids: null,
      cpuTotalNs: COUNTERS.cpuTotalNs,
    });
  });
});

describe("CgroupStatsReader.containerIds", () => {
  const other = "a".repeat(64);

  it("lists the container cgroups under dockerd's default parents, for both drivers", () => {
    const { reader, cgroup } = host(
      {
        ...CGROUP_V1_ROOTS,
        ...cgroupV1Files(`docker/${ID}`, COUNTERS),
        [`cpuacct/system.slice/docker-${other}.scope/cpuacct.usage`]: "1\n",
        "cpuacct/system.slice/ssh.service/cpuacct.usage": "1\n",
        "cpuacct/docker/not-a-container/cpuacct.usage": "1\n",
      },
      {},
    );
    expect(reader.containerIds()).toEqual(new Set([ID, other]));
    expect(reader.containerIds()).toEqual(new Set([ID, other]));
    cgroup.remove(`cpuacct/docker/${ID}`);
    expect(reader.containerIds()).toEqual(new Set([other]));
    // A new container under a parent whose other entries did not change.
    const third = "b".repeat(64);
    cgroup.write(`cpuacct/docker/${third}/cpuacct.usage`, "1\n");
    expect(reader.containerIds()).toEqual(new Set([other, third]));
  });

  it("is empty on a host where no container ran yet (v2)", () => {
    const { reader } = host(CGROUP_V2_ROOTS, {});
    expect(reader.containerIds()).toEqual(new Set());
  });
});

describe("CgroupStatsReader on cgroup v2", () => {
  const v2Counters: FixtureCounters = {
    ...COUNTERS,
    read: "2026-11-21T20:51:40.361999Z",
    cpuTotalNs: 48_120_331_000,
    systemCpuNs: 9_873_520_000_000,
    memUsageBytes: 157_286_400,
    inactiveFileBytes: 52_428_800,
    rxBytes: 1_500_000,
    txBytes: 300_000,
    blkReadBytes: 10_485_760,
    blkWriteBytes: 2_097_152,
    pids: 12,
  };

  it("reads the same counters the API reports for the same container (systemd driver)", () => {
    const relative = `system.slice/docker-${ID}.scope`;
    const { reader } = host(
      { ...CGROUP_V2_ROOTS, ...cgroupV2Files(relative, v2Counters) },
      {
        stat: procStat(v2Counters.systemCpuNs, 4, 250),
        ...processFiles(
          PID,
          `0::/${relative}\n`,
          netDev({ eth0: { rx: 1_500_000 - 1000, tx: 300_000 - 500 }, eth1: { rx: 1000, tx: 500 } }),
        ),
      },
    );
    expect(fileReading(reader, ID, bridged)).toEqual({
      ...apiReading(cgroupV2Stats(v2Counters)),
      readAtMs: READ_AT,
    });
  });

  it("has no block I/O or pids figures when those controllers are not enabled for the container", () => {
    const relative = `docker/${ID}`;
    const files = cgroupV2Files(relative, v2Counters);
    delete files[`${relative}/io.stat`];
    delete files[`${relative}/pids.current`];
    const { reader } = host({ ...CGROUP_V2_ROOTS, ...files }, { stat: procStat(v2Counters.systemCpuNs, 4) });
    expect(fileReading(reader, ID, { pid: null, networkMode: "none", cgroupParent: null })).toMatchObject({
      blkReadBytes: null,
      blkWriteBytes: null,
      pids: null,
      memUsedBytes: v2Counters.memUsageBytes - v2Counters.inactiveFileBytes,
    });
  });

  it("finds a container under its --cgroup-parent", () => {
    const { reader } = host(
      { ...CGROUP_V2_ROOTS, ...cgroupV2Files(`ci/jobs/${ID}`, v2Counters) },
      { stat: procStat(v2Counters.systemCpuNs, 4) },
    );
    expect(
      fileReading(reader, ID, { pid: null, networkMode: "none", cgroupParent: "/ci/jobs" }),
    ).toMatchObject({
      cpuTotalNs: v2Counters.cpuTotalNs,
    });
  });
});

describe("CgroupStatsReader.limitsSignature", () => {
  const none: ContainerProcess = { pid: null, networkMode: "none", cgroupParent: null };

  it("changes with a container's memory or CPU limit on v1, and with a new cgroup of the container", () => {
    const relative = `docker/${ID}`;
    const { reader, cgroup } = host(
      {
        ...CGROUP_V1_ROOTS,
        ...cgroupV1Files(relative, COUNTERS),
        [`memory/${relative}/memory.limit_in_bytes`]: "67108864\n",
        [`cpu/${relative}/cpu.cfs_quota_us`]: "50000\n",
        [`cpu/${relative}/cpu.cfs_period_us`]: "100000\n",
      },
      { stat: procStat(COUNTERS.systemCpuNs, 4) },
    );
    // Not read before the container's cgroup is found.
    expect(reader.limitsSignature(ID)).toBeUndefined();
    fileReading(reader, ID, none);
    const first = reader.limitsSignature(ID);
    expect(first).toBeDefined();
    expect(reader.limitsSignature(ID)).toBe(first);

    cgroup.write(`memory/${relative}/memory.limit_in_bytes`, "134217728\n");
    const memoryRaised = reader.limitsSignature(ID);
    expect(memoryRaised).not.toBe(first);
    cgroup.write(`cpu/${relative}/cpu.cfs_quota_us`, "-1\n");
    const cpuUnlimited = reader.limitsSignature(ID);
    expect(cpuUnlimited).not.toBe(memoryRaised);

    // Forgotten and found again: the same limits, but another cgroup's.
    reader.retainOnly(new Set());
    fileReading(reader, ID, none);
    expect(reader.limitsSignature(ID)).not.toBe(cpuUnlimited);
  });

  it("changes with memory.max or cpu.max on v2, and cannot tell when a limit file is missing", () => {
    const relative = `system.slice/docker-${ID}.scope`;
    const { reader, cgroup } = host(
      {
        ...CGROUP_V2_ROOTS,
        ...cgroupV2Files(relative, COUNTERS),
        [`${relative}/memory.max`]: "max\n",
        [`${relative}/cpu.max`]: "max 100000\n",
      },
      { stat: procStat(COUNTERS.systemCpuNs, 4) },
    );
    fileReading(reader, ID, none);
    const first = reader.limitsSignature(ID);
    expect(first).toBeDefined();
    cgroup.write(`${relative}/cpu.max`, "150000 100000\n");
    const cpuLimited = reader.limitsSignature(ID);
    expect(cpuLimited).not.toBe(first);
    cgroup.write(`${relative}/memory.max`, "268435456\n");
    expect(reader.limitsSignature(ID)).not.toBe(cpuLimited);
    cgroup.remove(`${relative}/memory.max`);
    expect(reader.limitsSignature(ID)).toBeUndefined();
  });
});
