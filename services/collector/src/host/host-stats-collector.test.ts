import type { HostStatsMessage } from "@crowsnest/shared";
import { codecs } from "@crowsnest/shared";
import { afterEach, describe, expect, it } from "vitest";
import { captureLogger, linesWith } from "../fixtures/capture-logger.ts";
import { type FileTree, fileTree } from "../procfs/fixtures/file-tree.ts";
import { HostFiles, HostStatsCollector } from "./host-stats-collector.ts";

const T0 = Date.parse("2026-11-21T21:00:00.000Z");
const GIB = 1024 ** 3;

function stat(user: number, system: number, idle: number, iowait: number, steal = 0): string {
  return `cpu  ${user} 0 ${system} ${idle} ${iowait} 0 0 ${steal} 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\ncpu1 1 0 1 1 0 0 0 0 0 0\nintr 1 2 3\nctxt 4\n`;
}

const MEMINFO = `MemTotal:       24684092 kB
MemFree:        22928000 kB
MemAvailable:   23893020 kB
Buffers:           22160 kB
Cached:          1151484 kB
`;

const trees: FileTree[] = [];
afterEach(() => {
  for (const tree of trees.splice(0)) tree.cleanup();
});

function setup(files: Record<string, string>) {
  const proc = fileTree(files);
  trees.push(proc);
  const published: HostStatsMessage[] = [];
  const { logger, lines } = captureLogger();
  let nowMs = T0;
  const collector = new HostStatsCollector({
    procRoot: proc.root,
    host: "node-1",
    sink: {
      publish(message) {
        const encoded = codecs.hostStats.encode(message);
        if (!encoded.ok) return { status: "invalid", detail: encoded.detail };
        published.push(message);
        return { status: "queued" };
      },
    },
    logger,
    now: () => nowMs,
  });
  return {
    collector,
    proc,
    published,
    lines,
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

const HOST_FILES = {
  stat: stat(1000, 500, 8000, 500),
  meminfo: MEMINFO,
  loadavg: "1.21 0.98 0.68 5/193 8117\n",
  uptime: "1536.09 2293.52\n",
};

describe("HostStatsCollector", () => {
  it("publishes the host's memory, load and uptime, with no CPU value on the first sample", () => {
    const { collector, published } = setup(HOST_FILES);
    collector.sample();
    expect(published).toEqual([
      {
        v: 1,
        host: "node-1",
        ts: "2026-11-21T21:00:00.000Z",
        cpu_percent: null,
        online_cpus: 2,
        mem_total: 24_684_092 * 1024,
        mem_used: (24_684_092 - 23_893_020) * 1024,
        mem_available: 23_893_020 * 1024,
        load_1: 1.21,
        load_5: 0.98,
        load_15: 0.68,
        uptime_s: 1536.09,
      },
    ]);
  });

  it("gives the busy share of all CPUs between two samples, idle and iowait being idle", () => {
    const { collector, proc, published, advance } = setup(HOST_FILES);
    collector.sample();
    // 400 ticks passed: 100 user, 50 system, 50 steal busy; 150 idle, 50 iowait.
    proc.write("stat", stat(1100, 550, 8150, 550, 50));
    advance(10_000);
    collector.sample();
    expect(published[1]?.cpu_percent).toBe(50);
    expect(published[1]?.ts).toBe("2026-11-21T21:00:10.000Z");
    // Counters that went backwards (a different /proc) give no value rather than a wrong one.
    proc.write("stat", stat(10, 5, 80, 5));
    collector.sample();
    expect(published[2]?.cpu_percent).toBeNull();
  });

  it("falls back to free plus page cache on kernels without MemAvailable", () => {
    const { proc } = setup(HOST_FILES);
    proc.write("meminfo", "MemTotal: 4194304 kB\nMemFree: 1048576 kB\nBuffers: 0 kB\nCached: 1048576 kB\n");
    const read = new HostFiles(proc.root).read();
    expect(read).toMatchObject({ ok: true, reading: { memTotalBytes: 4 * GIB, memAvailableBytes: 2 * GIB } });
  });

  it("publishes nothing while the files are unreadable, logs that once, and says when it recovers", () => {
    const { collector, proc, published, lines } = setup({ ...HOST_FILES, loadavg: "garbage\n" });
    expect(collector.sample()).toBeUndefined();
    proc.remove("meminfo");
    expect(collector.sample()).toBeUndefined();
    expect(published).toEqual([]);
    expect(linesWith(lines, "warn", "cannot read the host's stats")).toHaveLength(1);
    proc.write("meminfo", MEMINFO);
    proc.write("loadavg", "0.5 0.5 0.5 1/100 1\n");
    expect(collector.sample()).toBeDefined();
    expect(linesWith(lines, "info", "host stats readable again")).toHaveLength(1);
  });
});
