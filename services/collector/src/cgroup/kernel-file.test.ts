import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type KernelFileOptions, kernelFile, kernelFileBytes, regeneratesOnRead } from "./kernel-file.ts";
import { NET_DEV_LINE_MAX_BYTES } from "./process-network.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "crowsnest-kernel-file-"));
  dirs.push(dir);
  return dir;
}

describe("kernelFile", () => {
  it("keeps files open only on filesystems the kernel writes afresh on every read", () => {
    expect(regeneratesOnRead("/proc")).toBe(true);
    expect(regeneratesOnRead(tempDir())).toBe(false);
    expect(regeneratesOnRead("/no/such/dir")).toBe(false);
  });

  it("reads a kept /proc file afresh each time", async () => {
    const file = kernelFile(`/proc/${process.pid}/stat`, true);
    const utime = () => Number(file.read()?.split(") ")[1]?.split(" ")[11]);
    const before = utime();
    // Burn CPU until the kernel's clock ticks for this process (10 ms at USER_HZ 100).
    const until = Date.now() + 2000;
    while (utime() === before && Date.now() < until) for (let i = 0; i < 1e5; i++) Math.sqrt(i);
    expect(utime()).toBeGreaterThan(before);
    file.close();
  });

  it("fails, instead of showing the last numbers, once the object behind a kept file is gone", async () => {
    const child = spawn("sleep", ["30"]);
    const file = kernelFile(`/proc/${child.pid}/stat`, true);
    expect(file.read()).toContain("(sleep)");
    const exited = once(child, "exit");
    child.kill();
    await exited;
    expect(file.read()).toBeUndefined();
    // Closed by the failure; closing again is harmless.
    file.close();
  });

  it("reads other files by path, so a replaced or removed file is never read through an old descriptor", () => {
    const path = join(tempDir(), "pids.current");
    writeFileSync(path, "3\n");
    const file = kernelFile(path, false);
    expect(file.read()).toBe("3\n");
    rmSync(path);
    expect(file.read()).toBeUndefined();
    writeFileSync(path, "4\n");
    expect(file.read()).toBe("4\n");
  });

  it("reads the bytes in place, for the hot path to parse before the next read", () => {
    const path = join(tempDir(), "memory.stat");
    writeFileSync(path, "cache 5\n");
    const smaps = kernelFile("/proc/self/smaps", true);
    const small = kernelFile(path, false);
    // A larger file first: the buffer grows and holds its bytes past the smaller one's.
    const large = smaps.readBytes() ?? 0;
    expect(large).toBeGreaterThan(16 * 1024);
    expect(small.readBytes()).toBe(8);
    expect(kernelFileBytes().toString("latin1", 0, 8)).toBe("cache 5\n");
    smaps.close();
  });

  it("reads a kept file larger than its buffer whole", () => {
    const file = kernelFile("/proc/self/smaps", true);
    const text = file.read() ?? "";
    // smaps of a Node process runs to hundreds of kilobytes; every mapping ends with its VmFlags line.
    expect(text.length).toBeGreaterThan(16 * 1024);
    expect(text.trimEnd().split("\n").at(-1)).toMatch(/^VmFlags:/);
    file.close();
  });

  it("reads a kept file of one record with one system call, and a file of many records until a read returns nothing", async () => {
    // This thread's read system calls (pread included), as the kernel counts them; the count is
    // read before and after, so the reads of /proc/thread-self/io itself cancel out.
    const readCalls = () => Number(/^syscr: (\d+)$/m.exec(readFileSync("/proc/thread-self/io", "utf8"))?.[1]);
    const callsPerRead = (path: string, options: KernelFileOptions) => {
      const file = kernelFile(path, true, options);
      // Whole: the numbers move between two reads, the lines do not.
      const lines = (text: string | undefined) => text?.split("\n").map((line) => line.split(" ")[0]);
      expect(lines(file.read())).toEqual(lines(readFileSync(path, "latin1")));
      const empty = readCalls();
      const nothing = readCalls() - empty;
      const before = readCalls();
      for (let i = 0; i < 100; i++) file.read();
      const calls = readCalls() - before - nothing;
      file.close();
      return calls / 100;
    };
    // /proc/<pid>/stat is one record, like every cgroup file; so is /proc/stat.
    expect(callsPerRead(`/proc/${process.pid}/stat`, { oneRecord: true })).toBe(1);
    expect(callsPerRead("/proc/stat", { oneRecord: true })).toBe(1);
    expect(callsPerRead(`/proc/${process.pid}/stat`, {})).toBe(2);
    // net/dev of a network namespace of its own with few interfaces, as a container's is: a
    // first read well short of a page (this process's own may list a host's hundred veths).
    const child = spawn("unshare", ["--net", "sh", "-c", "echo in-namespace; exec sleep 30"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      await once(child.stdout, "data");
      const namespaceNetDev = `/proc/${child.pid}/net/dev`;
      expect(readFileSync(namespaceNetDev).length).toBeLessThan(4096 - NET_DEV_LINE_MAX_BYTES);
      expect(callsPerRead(namespaceNetDev, { recordMaxBytes: NET_DEV_LINE_MAX_BYTES })).toBe(1);
      expect(callsPerRead(namespaceNetDev, {})).toBe(2);
    } finally {
      child.kill();
    }
  });

  it("reads a seq_file of bounded records that fills a page until a read returns nothing", () => {
    // /proc/self/maps: a line per mapping, hundreds of them in a Node process, each short of 1 KB
    // (the paths here are short); the kernel hands them over a page at a time.
    const path = "/proc/self/maps";
    const file = kernelFile(path, true, { recordMaxBytes: 1024 });
    const first = (text: string | undefined) => text?.split("\n").map((line) => line.split(" ")[0]);
    const text = file.read();
    expect(text?.length).toBeGreaterThan(2 * 4096);
    // The mappings' address ranges, as a fresh read lists them (the heap's may move in between: compared by count and last).
    const fresh = first(readFileSync(path, "latin1"));
    expect(first(text)?.length).toBe(fresh?.length);
    expect(first(text)?.at(-2)).toBe(fresh?.at(-2));
    file.close();
  });
});
