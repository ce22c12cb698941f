// A container's network counters as its process shows them: /proc/<pid>/net/dev lists the
// interfaces of the network namespace the process is in, summed as the runtimes sum them
// (every interface but the loopback). Used by the cgroup fast path and by runtimes whose stats
// API has no network figures (containerd's Metrics).
//
// Before a PID's net/dev is trusted, its /proc/<pid>/cgroup must name the container's cgroup:
// a proc root from another PID namespace could show an unrelated process under the same number,
// whose network would be reported as the container's. That is checked once per PID; the file is
// then kept open (kernel-file.ts). A kept net/dev stays with the network namespace it was opened
// on; a restart gives the container a new PID, which is checked and opened afresh. Its lines are
// bounded (NET_DEV_LINE_MAX_BYTES), so a namespace of a few interfaces is read with one pread.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseNetDev } from "../procfs/proc-parsers.ts";
import { type KernelFile, kernelFile, kernelFileBytes, regeneratesOnRead } from "./kernel-file.ts";

/**
 * The longest line net/dev can hold (the kernel's dev_seq_printf_stats): an interface name of at
 * most 15 bytes, a colon, 16 counters of at most 20 digits with a space between two, and the
 * newline. Its two header lines, the first record, are shorter.
 */
export const NET_DEV_LINE_MAX_BYTES = 15 + 1 + 16 * 20 + 15 + 1;

export type NetworkResult =
  | { readonly ok: true; readonly rxBytes: number | null; readonly txBytes: number | null }
  | { readonly ok: false; readonly detail: string };

interface VerifiedProcess {
  readonly pid: number;
  readonly netDev: KernelFile;
}

export class ProcessNetworks {
  readonly #procRoot: string;
  readonly #keepOpen: boolean;
  /** By the caller's container key. */
  readonly #verified = new Map<string, VerifiedProcess>();

  constructor(procRoot: string) {
    this.#procRoot = procRoot;
    this.#keepOpen = regeneratesOnRead(procRoot);
  }

  /**
   * The network counters of the container `key` whose process is `pid`; `cgroupName` (the last
   * component of the container's cgroup directory) must appear in the process's /proc/<pid>/cgroup.
   * Null counters: the namespace has no interface but the loopback (no network figures, not zero).
   */
  read(key: string, pid: number, cgroupName: string): NetworkResult {
    let verified = this.#verified.get(key);
    if (verified?.pid !== pid) {
      this.forget(key);
      const pidDir = join(this.#procRoot, String(pid));
      let cgroups: string;
      try {
        cgroups = readFileSync(join(pidDir, "cgroup"), "utf8");
      } catch {
        return { ok: false, detail: `cannot read ${pidDir}/cgroup` };
      }
      if (!cgroups.includes(cgroupName)) {
        return { ok: false, detail: `${pidDir} is not a process of this container` };
      }
      verified = {
        pid,
        netDev: kernelFile(join(pidDir, "net", "dev"), this.#keepOpen, {
          recordMaxBytes: NET_DEV_LINE_MAX_BYTES,
        }),
      };
      this.#verified.set(key, verified);
    }
    const length = verified.netDev.readBytes();
    if (length === undefined) {
      this.forget(key);
      return { ok: false, detail: `cannot read ${verified.netDev.path}` };
    }
    const totals = parseNetDev(kernelFileBytes(), length);
    return { ok: true, rxBytes: totals?.rxBytes ?? null, txBytes: totals?.txBytes ?? null };
  }

  /** Releases the container's kept file; its next read checks its PID again. */
  forget(key: string): void {
    this.#verified.get(key)?.netDev.close();
    this.#verified.delete(key);
  }

  /** Forgets every container not in `keys`. */
  retainOnly(keys: ReadonlySet<string>): void {
    // forEach, not for-of: no iterator result per container every tick.
    this.#verified.forEach((_verified, key) => {
      if (!keys.has(key)) this.forget(key);
    });
  }
}
