import { describe, expect, it } from "vitest";
import { cgroupPathOf, containerdReading, containerdRecord, metricsReading } from "./containerd-reading.ts";
import {
  CAPTURED_BUSY_CONTAINER,
  CAPTURED_BUSY_V1,
  CAPTURED_IDLE_V1,
  containerWith,
  WRITTEN_V2,
} from "./fixtures/containerd-fixtures.ts";

const ID = "0123abcd";

describe("cgroupPathOf", () => {
  it("takes a cgroupfs path as it is, relative to each hierarchy's root", () => {
    expect(cgroupPathOf("default", ID, { linux: { cgroupsPath: "/default/0123abcd" } })).toBe(
      "default/0123abcd",
    );
    expect(cgroupPathOf("ci", ID, { linux: { cgroupsPath: "/ci/jobs/0123abcd" } })).toBe("ci/jobs/0123abcd");
  });

  it("turns the systemd driver's slice:prefix:name into runc's scope under the expanded slice", () => {
    // nerdctl's form under the systemd cgroup manager.
    expect(cgroupPathOf("default", ID, { linux: { cgroupsPath: "system.slice:nerdctl:0123abcd" } })).toBe(
      "system.slice/nerdctl-0123abcd.scope",
    );
    // The CRI plugin's form for a pod's container.
    expect(
      cgroupPathOf("k8s.io", ID, {
        linux: { cgroupsPath: "kubepods-besteffort-pod42.slice:cri-containerd:0123abcd" },
      }),
    ).toBe(
      "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod42.slice/cri-containerd-0123abcd.scope",
    );
    // An empty slice is systemd's system.slice; an empty prefix leaves the name alone.
    expect(cgroupPathOf("default", ID, { linux: { cgroupsPath: "::0123abcd" } })).toBe(
      "system.slice/0123abcd.scope",
    );
  });

  it("falls back to containerd's own default, /<namespace>/<id>, when the spec names none", () => {
    expect(cgroupPathOf("buildkit", ID, undefined)).toBe("buildkit/0123abcd");
    expect(cgroupPathOf("default", ID, { linux: {} })).toBe("default/0123abcd");
  });
});

describe("containerdRecord", () => {
  it("names a captured container after nerdctl's label, with its limits and cgroup from its spec", () => {
    expect(containerdRecord("default", CAPTURED_BUSY_CONTAINER)).toEqual({
      namespace: "default",
      id: "cncol-probe3",
      ref: { external_id: "cncol-probe3", name: "busy-capture" },
      limits: { memLimitBytes: 32 * 1024 * 1024, cpuLimitCores: null },
      cgroupPath: "default/cncol-probe3",
      ownNetwork: true,
    });
  });

  it("prefixes the namespace outside default and names a container without nerdctl's label by its id", () => {
    const record = containerdRecord(
      "buildkit",
      containerWith(ID, { resources: { cpu: { quota: 50_000, period: 100_000 } } }),
    );
    expect(record.ref).toEqual({ external_id: "buildkit/0123abcd", name: ID });
    expect(record.limits).toEqual({ memLimitBytes: null, cpuLimitCores: 0.5 });
  });

  it("has network figures of its own only with a network namespace that is not another process's", () => {
    const withNetwork = (path?: string) =>
      containerdRecord(
        "default",
        containerWith(ID, { namespaces: [{ type: "pid" }, { type: "network", ...(path ? { path } : {}) }] }),
      ).ownNetwork;
    expect(withNetwork()).toBe(true);
    expect(withNetwork("/var/run/netns/cni-1234")).toBe(true);
    // nerdctl's --network container:<other> joins the other container's namespace through its process.
    expect(withNetwork("/proc/4242/ns/net")).toBe(false);
    // No network namespace at all: host networking.
    expect(containerdRecord("default", containerWith(ID, { namespaces: [{ type: "pid" }] })).ownNetwork).toBe(
      false,
    );
  });
});

describe("metricsReading", () => {
  const context = { onlineCpus: 2, readAtMs: 0 };

  it("reads a captured cgroup v1 answer: CPU, working set, block I/O, pids, containerd's own time", () => {
    expect(metricsReading(CAPTURED_BUSY_V1, context)).toEqual({
      ok: true,
      reading: {
        readAtMs: 1796491380576,
        cpuTotalNs: 1609511920,
        systemCpuNs: null,
        onlineCpus: 2,
        memUsedBytes: 757760,
        netRxBytes: null,
        netTxBytes: null,
        // No I/O yet is a real zero.
        blkReadBytes: 0,
        blkWriteBytes: 0,
        pids: 1,
      },
    });
  });

  it("subtracts the inactive file cache, floored at 0, and sums Read and Write across devices on v1", () => {
    const cgroup = CAPTURED_IDLE_V1.cgroup;
    if (cgroup?.version !== 1) throw new Error("fixture is v1");
    const metric = {
      ...CAPTURED_IDLE_V1,
      cgroup: {
        ...cgroup,
        memory: { ...cgroup.memory, total_inactive_file: 300_000 },
        blkio: {
          io_service_bytes_recursive: [
            { op: "Read", major: 8, minor: 0, value: 4096 },
            { op: "Write", major: 8, minor: 0, value: 8192 },
            { op: "Total", major: 8, minor: 0, value: 12_288 },
            { op: "Read", major: 8, minor: 16, value: 1024 },
          ],
        },
      },
    };
    const read = metricsReading(metric, context);
    expect(read).toMatchObject({
      ok: true,
      reading: { memUsedBytes: 0, blkReadBytes: 5120, blkWriteBytes: 8192 },
    });
  });

  it("reads a cgroup v2 answer in the same units: microseconds become nanoseconds", () => {
    expect(metricsReading(WRITTEN_V2, context)).toMatchObject({
      ok: true,
      reading: {
        readAtMs: 1796491400250,
        cpuTotalNs: 2_500_000_000,
        memUsedBytes: 12_582_912 - 6_291_456,
        blkReadBytes: 12_288,
        blkWriteBytes: 65_536,
        pids: 3,
      },
    });
  });

  it("says null, not zero, for what the answer lacks, and refuses a statistics type it cannot read", () => {
    const bare = { containerId: ID, timestamp: undefined, cgroup: { version: 2 as const } };
    const read = metricsReading(bare, { onlineCpus: null, readAtMs: 1234 });
    if (!read.ok) throw new Error(read.detail);
    // The caller's time stands in for containerd's; every figure the answer lacks is null.
    const { readAtMs, ...figures } = read.reading;
    expect(readAtMs).toBe(1234);
    expect(Object.entries(figures).filter(([, value]) => value !== null)).toEqual([]);
    expect(
      metricsReading({ containerId: ID, timestamp: undefined, cgroup: undefined }, context),
    ).toMatchObject({
      ok: false,
    });
  });
});

describe("containerdReading", () => {
  it("measures CPU over wall time and carries the spec's limits and the bus identity", () => {
    const record = containerdRecord("default", CAPTURED_BUSY_CONTAINER);
    const read = metricsReading(CAPTURED_BUSY_V1, { onlineCpus: 2, readAtMs: 0 });
    if (!read.ok) throw new Error(read.detail);
    const reading = containerdReading(record, { ...read.reading, netRxBytes: 90, netTxBytes: 180 }, false);
    expect(reading).toMatchObject({
      container: { external_id: "cncol-probe3", name: "busy-capture" },
      cpu: { clock: "wall", usageNs: 1609511920, nanoCores: null },
      limits: { memLimitBytes: 32 * 1024 * 1024, cpuLimitCores: null },
      network: { readAtMs: 1796491380576, rxBytes: 90, txBytes: 180 },
      restarted: false,
      startedAtMs: null,
    });
  });
});
