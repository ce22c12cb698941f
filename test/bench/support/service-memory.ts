// How much memory a group of processes keeps resident, measured three ways from /proc, and the
// services' sources as the image runs them (plain JavaScript) for measuring the real thing.
//
// VmRSS counts every page a process has mapped, the `node` binary's shared code included, so two
// Node processes count that code twice. PSS divides each shared page among every process that
// maps it, on the whole machine: with other Node processes running, it credits our two with a
// share of pages others use, and comes out lower the more Node processes run. The figure that
// depends on nothing else running is the set of physical pages the group maps, each page counted
// once: read from /proc/<pid>/pagemap (page frame numbers need root; without it, undefined).

import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { AGENTS, type Agent, bundleAgent } from "../../../docker/bundle-agents.ts";

const MB = 1024 * 1024;
const PAGE_BYTES = 4096;

export interface MemoryFigures {
  /** VmRSS: every page the process has in memory, the node binary's shared code included. */
  rssMb: number;
  /** Proportional set size: shared pages divided among all processes on the machine sharing them. */
  pssMb: number;
  /** Pages of this process alone (USS): what stopping it would free. */
  privateMb: number;
}

export function memoryFigures(pid: number): MemoryFigures | undefined {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(rollup)?.[1] ?? Number.NaN);
    return {
      rssMb: kb("Rss") / 1024,
      pssMb: kb("Pss") / 1024,
      privateMb: (kb("Private_Clean") + kb("Private_Dirty")) / 1024,
    };
  } catch {
    return undefined;
  }
}

/**
 * The resident memory of a group of processes with every physical page counted once, however many
 * of them map it: what the group costs the machine. Undefined without the rights to read page
 * frame numbers (root), or when a process is gone.
 */
export function residentUnionMb(pids: readonly number[]): number | undefined {
  const frames = new Set<bigint>();
  try {
    for (const pid of pids) {
      if (!addResidentFrames(pid, frames)) return undefined;
    }
  } catch {
    return undefined;
  }
  return (frames.size * PAGE_BYTES) / MB;
}

const PRESENT = 1n << 63n;
const FRAME_MASK = (1n << 55n) - 1n;

/** Adds the frames of `pid`'s resident pages; false when the kernel hides frame numbers. */
function addResidentFrames(pid: number, frames: Set<bigint>): boolean {
  const maps = readFileSync(`/proc/${pid}/maps`, "utf8").trim().split("\n");
  const fd = openSync(`/proc/${pid}/pagemap`, "r");
  const entries = Buffer.alloc(8 * 4096);
  let sawPresent = false;
  let sawFrame = false;
  try {
    for (const line of maps) {
      const [range = "", permissions = ""] = line.split(" ");
      // Reservations without access are never resident; the vsyscall page is outside the table.
      if (permissions.startsWith("---") || line.endsWith("[vsyscall]")) continue;
      const [start = 0n, end = 0n] = range.split("-").map((hex) => BigInt(`0x${hex}`));
      for (let page = start / 4096n; page < end / 4096n; ) {
        const count = Number(end / 4096n - page > 4096n ? 4096n : end / 4096n - page);
        const bytes = readSync(fd, entries, 0, count * 8, page * 8n);
        for (let offset = 0; offset + 8 <= bytes; offset += 8) {
          const entry = entries.readBigUInt64LE(offset);
          if ((entry & PRESENT) === 0n) continue;
          sawPresent = true;
          const frame = entry & FRAME_MASK;
          if (frame !== 0n) sawFrame = true;
          frames.add(frame);
        }
        page += BigInt(count);
      }
    }
  } finally {
    closeSync(fd);
  }
  // Without CAP_SYS_ADMIN every frame number reads as 0.
  return !sawPresent || sawFrame;
}

/**
 * shared, collector and watcher sources as plain JavaScript in a temporary directory (types
 * stripped, `.ts` imports renamed, shared's entry points as its package.json maps them), with
 * their dependencies linked from the workspace: what `tsc` emits for this erasable-only
 * TypeScript, and what the image runs. `repo`: this checkout by default, or another one (a
 * baseline worktree with its dependencies installed) to run its services side by side.
 */
export function buildStrippedCopy(repo: string = fileURLToPath(new URL("../../..", import.meta.url))): {
  dir: string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), "crowsnest-rss-build-"));
  const copy = (from: string, to: string) => {
    for (const entry of readdirSync(join(repo, from), { withFileTypes: true })) {
      const source = join(from, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "fixtures") copy(source, join(to, entry.name));
        continue;
      }
      if (!entry.name.endsWith(".ts") || entry.name.endsWith(".test.ts")) continue;
      const code = stripTypeScriptTypes(readFileSync(join(repo, source), "utf8"), { mode: "strip" }).replace(
        /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']+)\.ts\2/g,
        "$1$2$3.js$2",
      );
      mkdirSync(join(dir, to), { recursive: true });
      writeFileSync(join(dir, to, entry.name.replace(/\.ts$/, ".js")), code);
    }
  };
  copy("packages/shared/src", "node_modules/@crowsnest/shared/src");
  copy("services/collector/src", "collector/src");
  copy("services/watcher/src", "watcher/src");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  const sharedManifest = JSON.parse(readFileSync(join(repo, "packages/shared/package.json"), "utf8")) as {
    exports: Record<string, Record<string, string>>;
  };
  // Each entry point of shared at its source file, as JavaScript.
  const exports = Object.fromEntries(
    Object.entries(sharedManifest.exports).map(([subpath, conditions]) => [
      subpath,
      (conditions["crowsnest-source"] ?? "").replace(/\.ts$/, ".js"),
    ]),
  );
  writeFileSync(
    join(dir, "node_modules/@crowsnest/shared/package.json"),
    JSON.stringify({ name: "@crowsnest/shared", type: "module", exports }),
  );
  for (const packageDir of ["packages/shared", "services/collector", "services/watcher"]) {
    const manifest = JSON.parse(readFileSync(join(repo, packageDir, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
    };
    for (const dependency of Object.keys(manifest.dependencies ?? {})) {
      const link = join(dir, "node_modules", dependency);
      if (dependency === "@crowsnest/shared" || existsSync(link)) continue;
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(realpathSync(join(repo, packageDir, "node_modules", dependency)), link);
    }
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The agents as the image runs them: each bundled by docker/bundle-agents.ts (from `repo`'s
 * sources) into `<dir>/<agent>/`, beside a node_modules with what the bundles leave outside
 * (dockerode), linked from the workspace. `entry(agent)` is the file to run.
 */
export async function buildAgentBundles(
  repo: string = fileURLToPath(new URL("../../..", import.meta.url)),
): Promise<{
  dir: string;
  entry: (agent: Agent) => string;
  cleanup: () => void;
}> {
  const dir = mkdtempSync(join(tmpdir(), "crowsnest-bundle-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  for (const agent of AGENTS) await bundleAgent(agent, repo, join(dir, agent));
  const link = join(dir, "node_modules", "dockerode");
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(realpathSync(join(repo, "services/watcher/node_modules/dockerode")), link);
  return {
    dir,
    entry: (agent) => join(dir, agent, "main.js"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The agents as a tree's image runs them: the file to run per agent, in a temporary directory. */
export interface BuiltAgents {
  dir: string;
  entry: (agent: Agent) => string;
  cleanup: () => void;
}

/**
 * The agents of the tree at `root` as its image runs them, built by that tree's own bench support
 * from its own sources: the bundles, or for a tree from before them, the plain JavaScript copy its
 * image ran. So a baseline worktree is measured as it shipped.
 */
export async function buildAgentsAsImage(root: string): Promise<BuiltAgents> {
  const support = (await import(pathToFileURL(join(root, "test/bench/support/service-memory.ts")).href)) as {
    buildAgentBundles?: () => Promise<BuiltAgents>;
    buildStrippedCopy: () => { dir: string; cleanup: () => void };
  };
  if (support.buildAgentBundles !== undefined) return support.buildAgentBundles();
  const copy = support.buildStrippedCopy();
  return { ...copy, entry: (agent) => join(copy.dir, agent, "src", "main.js") };
}

/**
 * The environment a bench's own collector runs with: only PATH and HOME of the bench's, its run's
 * subjects and host name, the interval, and warnings only.
 */
export function benchCollectorEnv(natsUrl: string, runId: string, intervalMs: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    CROWSNEST_NATS_URL: natsUrl,
    CROWSNEST_SUBJECT_PREFIX: runId,
    CROWSNEST_HOST_NAME: runId,
    CROWSNEST_COLLECT_INTERVAL_MS: String(intervalMs),
    CROWSNEST_LOG_LEVEL: "warn",
  };
}
