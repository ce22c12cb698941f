import { describe, expect, it } from "vitest";
import {
  blkioHasDevices,
  counterAt,
  decimalCounter,
  dockerSystemCpuNs,
  hostCpuTicks,
  keyedValue,
  keyedValueIfPresent,
  parseBlkioV1,
  parseIoStatV2,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parseProcStat,
  parseUptime,
  singleCounter,
} from "./proc-parsers.ts";

/** A text as the kernel-file reader hands it over: its bytes, then its length. */
function ascii(text: string): [Buffer, number] {
  return [Buffer.from(text, "latin1"), text.length];
}

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
    expect(parseNetDev(...ascii(text))).toEqual({ rxBytes: 524_100, txBytes: 180_900 });
  });

  it("has no figures for a namespace with only the loopback (--network none), and none for a mangled line", () => {
    expect(
      parseNetDev(
        ...ascii(
          `${header}    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n`,
        ),
      ),
    ).toBeNull();
    expect(parseNetDev(...ascii(`${header}  eth0: 12 x\n`))).toBeUndefined();
  });
});

describe("keyedValue and singleCounter", () => {
  const stat = "cache 10055680\nrss 49152\ninactive_file 9084928\ntotal_inactive_file 9084928\n";
  it("finds one key of a flat keyed file, first line or later, and not a longer key that ends like it", () => {
    expect(keyedValue(...ascii(stat), "cache")).toBe(10_055_680);
    expect(keyedValue(...ascii(stat), "inactive_file")).toBe(9_084_928);
    expect(keyedValue(...ascii("total_inactive_file 5\n"), "inactive_file")).toBeNull();
    expect(keyedValue(...ascii(stat), "absent")).toBeNull();
    expect(keyedValue(...ascii("usage_usec -3\n"), "usage_usec")).toBeNull();
  });

  it("reads a one-number file", () => {
    expect(singleCounter(...ascii("33031316\n"))).toBe(33_031_316);
    expect(singleCounter(...ascii("max\n"))).toBeNull();
  });
});

describe("block I/O files", () => {
  it("sums Read and Write of every device in a v1 blkio file, ignoring the other operations and totals", () => {
    const text =
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 8192\n8:0 Async 4096\n8:0 Discard 0\n8:0 Total 12288\n253:0 Read 4096\n253:0 Write 8192\nTotal 24576\n";
    expect(parseBlkioV1(...ascii(text))).toEqual({ readBytes: 8192, writeBytes: 16_384 });
    // No I/O yet: a real zero.
    expect(parseBlkioV1(...ascii("Total 0\n"))).toEqual({ readBytes: 0, writeBytes: 0 });
    expect(parseBlkioV1(...ascii("8:0 Read lots\n"))).toBeUndefined();
  });

  it("sums rbytes and wbytes of every device in a v2 io.stat", () => {
    const text =
      "259:0 rbytes=10481664 wbytes=2097152 rios=120 wios=40 dbytes=0 dios=0\n253:1 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n";
    expect(parseIoStatV2(...ascii(text))).toEqual({ readBytes: 10_485_760, writeBytes: 2_097_152 });
    expect(parseIoStatV2(...ascii(""))).toEqual({ readBytes: 0, writeBytes: 0 });
    expect(parseIoStatV2(...ascii("259:0 rbytes=x\n"))).toBeUndefined();
  });
});

// The parsers as they were written on the text (split, trim, regular expressions): the byte
// parsers must mean exactly what these do, on the kernel's files and on anything mangled.
const onText = {
  netDev(text: string): { rxBytes: number; txBytes: number } | null | undefined {
    let rxBytes = 0;
    let txBytes = 0;
    let interfaces = 0;
    for (const line of text.split("\n")) {
      const colon = line.indexOf(":");
      if (colon < 0) continue;
      if (line.slice(0, colon).trim() === "lo") continue;
      const fields = line
        .slice(colon + 1)
        .trim()
        .split(/\s+/);
      const rx = decimalCounter(fields[0]);
      const tx = decimalCounter(fields[8]);
      if (rx === null || tx === null) return undefined;
      rxBytes += rx;
      txBytes += tx;
      interfaces += 1;
    }
    return interfaces === 0 ? null : { rxBytes, txBytes };
  },
  keyedValue(text: string, key: string): number | null {
    let start: number;
    if (text.startsWith(`${key} `)) {
      start = key.length + 1;
    } else {
      const at = text.indexOf(`\n${key} `);
      if (at < 0) return null;
      start = at + key.length + 2;
    }
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    return decimalCounter(text.slice(start, end).trim());
  },
  hasKey: (text: string, key: string) => text.startsWith(`${key} `) || text.includes(`\n${key} `),
  singleCounter: (text: string) => decimalCounter(text.trim()),
  blkioV1(text: string): { readBytes: number; writeBytes: number } | undefined {
    let readBytes = 0;
    let writeBytes = 0;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const fields = line.split(" ");
      if (fields[0] === "Total" && fields.length === 2) continue;
      if (fields.length !== 3 || !/^\d+:\d+$/.test(fields[0] ?? "")) return undefined;
      const value = decimalCounter(fields[2]);
      if (value === null) return undefined;
      if (fields[1] === "Read") readBytes += value;
      else if (fields[1] === "Write") writeBytes += value;
    }
    return { readBytes, writeBytes };
  },
  blkioHasDevices: (text: string) => /^\d+:\d+ /m.test(text),
  ioStatV2(text: string): { readBytes: number; writeBytes: number } | undefined {
    let readBytes = 0;
    let writeBytes = 0;
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      const [device, ...pairs] = line.trim().split(/\s+/);
      if (!/^\d+:\d+$/.test(device ?? "")) return undefined;
      for (const pair of pairs) {
        const [key, raw] = pair.split("=");
        if (key !== "rbytes" && key !== "wbytes") continue;
        const value = decimalCounter(raw);
        if (value === null) return undefined;
        if (key === "rbytes") readBytes += value;
        else writeBytes += value;
      }
    }
    return { readBytes, writeBytes };
  },
};

/** A seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Texts made of the pieces the kernel writes these files with, and of pieces it never writes. */
function texts(pieces: readonly string[], count: number, seed: number): string[] {
  const next = random(seed);
  return Array.from({ length: count }, () => {
    let text = "";
    const length = Math.floor(next() * 40);
    for (let i = 0; i < length; i++) text += pieces[Math.floor(next() * pieces.length)];
    return text;
  });
}

const NUMBERS = ["0", "7", "4096", "18446744073709551615", "9007199254740993", "12345678901234", "-3", "1.5"];
const SPACES = [" ", "  ", "\t", "\n", "\n", "\n", "\r", "\u00a0", ""];

describe("the byte parsers mean what the same code on the text means", () => {
  // Each text is parsed from a buffer whose bytes past it hold another file (the reader's shared
  // buffer does): nothing there may count.
  const inStaleBuffer = (text: string, stale: string): [Buffer, number] => {
    const buffer = Buffer.alloc(text.length + stale.length + 16, "x");
    buffer.write(text, 0, "latin1");
    buffer.write(stale, text.length, "latin1");
    return [buffer, text.length];
  };

  it("net/dev", () => {
    const pieces = [
      ...NUMBERS,
      ...SPACES,
      "lo:",
      "eth0:",
      " eth1: ",
      "veth:",
      "|bytes",
      "Inter-|",
      ":",
      "x",
      "lo",
    ];
    for (const text of texts(pieces, 4000, 1)) {
      expect(
        parseNetDev(...inStaleBuffer(text, "\neth9: 1 2 3 4 5 6 7 8 9\n")),
        JSON.stringify(text),
      ).toEqual(onText.netDev(text));
    }
    const real = `Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n    lo: 640 8 0 0 0 0 0 0 640 8 0 0 0 0 0 0\n  eth0: ${"1 ".repeat(16)}\n`;
    expect(parseNetDev(...ascii(real))).toEqual(onText.netDev(real));
  });

  it("keyed files and one-number files", () => {
    const pieces = [
      ...NUMBERS,
      ...SPACES,
      "cache",
      "inactive_file",
      "total_inactive_file",
      "usage_usec",
      " ",
      "_",
    ];
    for (const text of texts(pieces, 4000, 2)) {
      for (const key of ["inactive_file", "total_inactive_file", "usage_usec", "cache"]) {
        const bytes = inStaleBuffer(text, `\n${key} 99\n`);
        expect(keyedValue(...bytes, key), `${key} in ${JSON.stringify(text)}`).toBe(
          onText.keyedValue(text, key),
        );
        expect(keyedValueIfPresent(...bytes, key), `${key} in ${JSON.stringify(text)}`).toBe(
          onText.hasKey(text, key) ? onText.keyedValue(text, key) : undefined,
        );
      }
      expect(singleCounter(...inStaleBuffer(text, "5")), JSON.stringify(text)).toBe(
        onText.singleCounter(text),
      );
    }
  });

  it("v1 blkio and v2 io.stat", () => {
    const blkio = [
      ...NUMBERS,
      ...SPACES,
      "8:0",
      "253:1",
      ":",
      "Read",
      "Write",
      "Sync",
      "Total",
      "Total 0\n",
      "8:0 Read 4096\n",
    ];
    for (const text of texts(blkio, 4000, 3)) {
      const bytes = inStaleBuffer(text, "8:0 Read 1\n");
      expect(parseBlkioV1(...bytes), JSON.stringify(text)).toEqual(onText.blkioV1(text));
      expect(blkioHasDevices(...bytes), JSON.stringify(text)).toBe(onText.blkioHasDevices(text));
    }
    const io = [
      ...NUMBERS,
      ...SPACES,
      "259:0",
      "8:",
      "rbytes=",
      "wbytes=",
      "rios=",
      "=",
      "rbytes",
      "dbytes=0",
    ];
    for (const text of texts(io, 4000, 4)) {
      expect(parseIoStatV2(...inStaleBuffer(text, "\n259:0 rbytes=5\n")), JSON.stringify(text)).toEqual(
        onText.ioStatV2(text),
      );
    }
  });

  it("reads counters beyond 2^53 as Number() rounds them", () => {
    for (const digits of [
      "9007199254740993",
      "18446744073709551615",
      "123456789012345",
      "1234567890123456",
    ]) {
      expect(counterAt(Buffer.from(digits, "latin1"), 0, digits.length)).toBe(Number(digits));
    }
  });
});
