// A cgroup of its own for one measured program, so that its CPU is the kernel's own account of
// every process it starts (Netdata's spawn server and plugins, Node's threads), read in one
// file: cpuacct.usage on cgroup v1, cpu.stat's usage_usec on v2. The program is started inside
// it (a shell writes its own PID into cgroup.procs and then execs the program), so nothing it
// does escapes the account, not even its first instructions.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";

export type CgroupVersion = 1 | 2;

const CGROUP_ROOT = "/sys/fs/cgroup";

/** v2 when the unified hierarchy is mounted at the root, v1 when a cpuacct hierarchy is; else undefined. */
export function cgroupVersion(): CgroupVersion | undefined {
  if (existsSync(join(CGROUP_ROOT, "cgroup.controllers"))) return 2;
  if (existsSync(join(CGROUP_ROOT, "cpuacct", "cpuacct.usage"))) return 1;
  return undefined;
}

export class CpuCgroup {
  readonly path: string;
  readonly #version: CgroupVersion;

  /** Creates the cgroup; throws when this process may not (not root, a read-only cgroupfs). */
  constructor(name: string, version: CgroupVersion) {
    this.#version = version;
    this.path = version === 1 ? join(CGROUP_ROOT, "cpuacct", name) : join(CGROUP_ROOT, name);
    mkdirSync(this.path);
  }

  /** CPU time (user + system) of every process that ever ran in the cgroup, in ms. */
  cpuMs(): number {
    if (this.#version === 1) return Number(readFileSync(join(this.path, "cpuacct.usage"), "utf8")) / 1e6;
    const usage = /^usage_usec (\d+)$/m.exec(readFileSync(join(this.path, "cpu.stat"), "utf8"))?.[1];
    return Number(usage) / 1000;
  }

  pids(): number[] {
    return readFileSync(join(this.path, "cgroup.procs"), "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map(Number);
  }

  /** VmRSS summed over the cgroup's processes, in MB (shared pages counted in each). */
  rssMb(): number {
    let kb = 0;
    for (const pid of this.pids()) {
      try {
        kb += Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
      } catch {
        // Gone meanwhile.
      }
    }
    return kb / 1024;
  }

  /** Starts `command` inside the cgroup; its standard error shows unless `quiet`. */
  spawn(
    command: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    quiet = false,
    /** A descriptor for the program's standard output, which is otherwise dropped. */
    stdout?: number,
  ): ChildProcess {
    return spawn(
      "/bin/sh",
      ["-c", 'echo $$ > "$0" && exec "$@"', join(this.path, "cgroup.procs"), command, ...args],
      { env, stdio: ["ignore", stdout ?? "ignore", quiet ? "ignore" : "inherit"] },
    );
  }

  /**
   * SIGTERM to the program, SIGKILL to whatever of it (its children included) is still in the
   * cgroup after `graceMs`, then removes the cgroup.
   */
  async stop(child: ChildProcess, graceMs = 15_000): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, graceMs))]);
    }
    for (let attempt = 0; attempt < 50; attempt++) {
      const left = this.pids();
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Exited meanwhile.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    this.remove();
  }

  /** Removes the cgroup, which must be empty. */
  remove(): void {
    rmdirSync(this.path);
  }
}
