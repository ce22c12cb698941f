import { describe, expect, it } from "vitest";
import {
  dockerSystemCpuNs,
  hostCpuTicks,
  keyedValue,
  parseBlkioV1,
  parseIoStatV2,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parseProcStat,
  parseUptime,
  singleCounter,
} from "./proc-parsers.ts";

// Captured from this project's 2-CPU test machine (kernel 6.x), with `steal` set for the test.
const PROC_STAT = `cpu  44754 0 13643 201220 695 0 215 100 0 0
cpu0 20305 0 6086 103574 109 0 39 42 0 0
cpu1 24449 0 7556 97646 585 0 175 57 0 0
intr 5331497 0 9 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
ctxt 10290876
btime 1763758000
processes 11042
procs_running 1
procs_blocked 0
softirq 2417640 0 511097 4 44577 0 0 4 916412 0 945546
`;

describe("parseProcStat", () => {
  it("reads the aggregate cpu line and counts the online CPUs", () => {
    expect(parseProcStat(PROC_STAT)).toEqual({
      ticks: [44754, 0, 13643, 201220, 695, 0, 215, 100],
      onlineCpus: 2,
    });
  });

  it("computes the host CPU time exactly as dockerd's system_cpu_usage: seven fields, no steal, in ns", () => {
    const cpu = parseProcStat(PROC_STAT);
    if (!cpu) throw new Error("unparsed");
    expect(dockerSystemCpuNs(cpu)).toBe((44754 + 13643 + 201220 + 695 + 215) * 10_000_000);
  });

  it("splits busy from idle time for the host's own CPU percentage, counting steal as not the guest's", () => {
    const cpu = parseProcStat(PROC_STAT);
    if (!cpu) throw new Error("unparsed");
    expect(hostCpuTicks(cpu)).toEqual({
      busy: 44754 + 13643 + 215 + 100,
      total: 44754 + 13643 + 201220 + 695 + 215 + 100,
    });
  });

  it("gives nothing for what is not /proc/stat", () => {
    for (const odd of [
      "",
      "cpu  1 2 3\ncpu0 1 2 3 4 5 6 7\n",
      "cpu  a b c d e f g h\ncpu0 1\n",
      "cpu  1 2 3 4 5 6 7 8\n",
    ]) {
      expect(parseProcStat(odd)).toBeUndefined();
    }
  });
});

describe("parseMeminfo", () => {
  it("reads kB values as bytes", () => {
    const meminfo = parseMeminfo(
      "MemTotal:       24684092 kB\nMemFree:        22928000 kB\nMemAvailable:   23893020 kB\nActive(anon):      12 kB\nHugePages_Total:       0\n",
    );
    expect(meminfo.get("MemTotal")).toBe(24_684_092 * 1024);
    expect(meminfo.get("MemAvailable")).toBe(23_893_020 * 1024);
    expect(meminfo.get("Active(anon)")).toBe(12 * 1024);
    expect(meminfo.get("HugePages_Total")).toBe(0);
    expect(parseMeminfo("garbage").size).toBe(0);
  });
});

describe("parseLoadavg and parseUptime", () => {
  it("reads the three load averages and the seconds since boot", () => {
    expect(parseLoadavg("1.21 0.98 0.68 5/193 8117\n")).toEqual([1.21, 0.98, 0.68]);
    expect(parseUptime("1536.09 2293.52\n")).toBe(1536.09);
    expect(parseLoadavg("1.2 x 3")).toBeUndefined();
    expect(parseUptime("")).toBeUndefined();
  });
});

describe("parseNetDev", () => {
  const header =
    "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

  it("sums every interface but the loopback", () => {
    const text = `${header}    lo:     640       8    0    0    0     0          0         0      640       8    0    0    0     0       0          0
  eth0:  523100    1204    0    0    0     0          0         0   180400     880    0    0    0     0       0          0
  eth1:    1000      12    0    0    0     0          0         0      500       6    0    0    0     0       0          0
`;
    expect(parseNetDev(text)).toEqual({ rxBytes: 524_100, txBytes: 180_900 });
  });

  it("has no figures for a namespace with only the loopback (--network none), and none for a mangled line", () => {
    expect(
      parseNetDev(
        `${header}    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n`,
      ),
    ).toBeNull();
    expect(parseNetDev(`${header}  eth0: 12 x\n`)).toBeUndefined();
  });
});

describe("keyedValue and singleCounter", () => {
  const stat = "cache 10055680\nrss 49152\ninactive_file 9084928\ntotal_inactive_file 9084928\n";
  it("finds one key of a flat keyed file, first line or later, and not a longer key that ends like it", () => {
    expect(keyedValue(stat, "cache")).toBe(10_055_680);
    expect(keyedValue(stat, "inactive_file")).toBe(9_084_928);
    expect(keyedValue("total_inactive_file 5\n", "inactive_file")).toBeNull();
    expect(keyedValue(stat, "absent")).toBeNull();
    expect(keyedValue("usage_usec -3\n", "usage_usec")).toBeNull();
  });

  it("reads a one-number file", () => {
    expect(singleCounter("33031316\n")).toBe(33_031_316);
    expect(singleCounter("max\n")).toBeNull();
  });
});

describe("block I/O files", () => {
  it("sums Read and Write of every device in a v1 blkio file, ignoring the other operations and totals", () => {
    const text =
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 8192\n8:0 Async 4096\n8:0 Discard 0\n8:0 Total 12288\n253:0 Read 4096\n253:0 Write 8192\nTotal 24576\n";
    expect(parseBlkioV1(text)).toEqual({ readBytes: 8192, writeBytes: 16_384 });
    // No I/O yet: a real zero.
    expect(parseBlkioV1("Total 0\n")).toEqual({ readBytes: 0, writeBytes: 0 });
    expect(parseBlkioV1("8:0 Read lots\n")).toBeUndefined();
  });

  it("sums rbytes and wbytes of every device in a v2 io.stat", () => {
    const text =
      "259:0 rbytes=10481664 wbytes=2097152 rios=120 wios=40 dbytes=0 dios=0\n253:1 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n";
    expect(parseIoStatV2(text)).toEqual({ readBytes: 10_485_760, writeBytes: 2_097_152 });
    expect(parseIoStatV2("")).toEqual({ readBytes: 0, writeBytes: 0 });
    expect(parseIoStatV2("259:0 rbytes=x\n")).toBeUndefined();
  });
});
