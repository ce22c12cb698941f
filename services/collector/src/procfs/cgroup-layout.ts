// Where a host's cgroup files are: cgroup v1 (one hierarchy per controller) or v2 (one unified
// hierarchy), and which directories inside it may hold a Docker container's cgroup under the
// cgroupfs driver (`docker/<id>`) and the systemd driver (`system.slice/docker-<id>.scope`).
import { existsSync } from "node:fs";
import { join } from "node:path";

export type CgroupLayout =
  | {
      readonly version: 1;
      readonly root: string;
      /** The cpuacct hierarchy (mounted alone or together with cpu as `cpu,cpuacct`). */
      readonly cpuacct: string;
      readonly memory: string;
      /** Null when the blkio controller is not mounted: block I/O is then unknown. */
      readonly blkio: string | null;
      /** Null when the pids controller is not mounted. */
      readonly pids: string | null;
    }
  | { readonly version: 2; readonly root: string };

export type LayoutDetection =
  | { readonly ok: true; readonly layout: CgroupLayout }
  | { readonly ok: false; readonly reason: string };

/** Reads which cgroup version `root` holds; never throws. */
export function detectCgroupLayout(root: string): LayoutDetection {
  try {
    // The unified hierarchy's root lists its controllers; a v1 (or hybrid) root is a tmpfs of mounts.
    if (existsSync(join(root, "cgroup.controllers"))) return { ok: true, layout: { version: 2, root } };
    const cpuacct = ["cpuacct", "cpu,cpuacct", "cpuacct,cpu"]
      .map((name) => join(root, name))
      .find((dir) => existsSync(join(dir, "cpuacct.usage")));
    const memory = join(root, "memory");
    if (cpuacct === undefined || !existsSync(join(memory, "memory.usage_in_bytes"))) {
      return {
        ok: false,
        reason: existsSync(root)
          ? `${root} has neither cgroup v2 (cgroup.controllers) nor the v1 cpuacct and memory hierarchies`
          : `${root} does not exist or is not readable`,
      };
    }
    const optional = (name: string): string | null => {
      const dir = join(root, name);
      return existsSync(dir) ? dir : null;
    };
    return {
      ok: true,
      layout: { version: 1, root, cpuacct, memory, blkio: optional("blkio"), pids: optional("pids") },
    };
  } catch (error) {
    return { ok: false, reason: `${root} could not be read: ${(error as Error).message}` };
  }
}

/**
 * `a-b-c.slice` as systemd nests it: `a.slice/a-b.slice/a-b-c.slice`. Docker's systemd driver
 * takes `--cgroup-parent` as a slice name; `-.slice` is the root slice.
 */
export function expandSlice(slice: string): string {
  if (slice === "-.slice") return "";
  const base = slice.slice(0, -".slice".length);
  const parts = base.split("-");
  const path: string[] = [];
  for (let i = 1; i <= parts.length; i++) path.push(`${parts.slice(0, i).join("-")}.slice`);
  return path.join("/");
}

/**
 * The cgroup directory, relative to a hierarchy's root, that runc derives from an OCI spec's
 * linux.cgroupsPath: `slice:prefix:name` under the systemd driver (nerdctl's
 * `system.slice:nerdctl:<id>` is `system.slice/nerdctl-<id>.scope`, the CRI's
 * `kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>` a scope in that slice), a path under
 * cgroupfs. Not for an empty cgroupsPath, whose meaning is the runtime's.
 */
export function runcCgroupDirectory(cgroupsPath: string): string {
  const systemd = /^([^:/]*):([^:/]*):([^:/]+)$/.exec(cgroupsPath);
  if (systemd !== null) {
    const [, slice = "", prefix = "", name = ""] = systemd;
    const unit = name.endsWith(".slice") ? name : prefix === "" ? `${name}.scope` : `${prefix}-${name}.scope`;
    return join(expandSlice(slice === "" ? "system.slice" : slice), unit);
  }
  return cgroupsPath.replace(/^\/+/, "");
}

/**
 * The directories, relative to a hierarchy's root, where dockerd may have put the container's
 * cgroup: its `--cgroup-parent` first when it has one, then the cgroupfs and systemd defaults.
 */
export function containerCgroupCandidates(id: string, cgroupParent: string | null): string[] {
  const candidates: string[] = [];
  if (cgroupParent !== null && cgroupParent !== "") {
    if (cgroupParent.endsWith(".slice") && !cgroupParent.includes("/")) {
      candidates.push(join(expandSlice(cgroupParent), `docker-${id}.scope`));
    } else {
      candidates.push(join(cgroupParent.replace(/^\/+/, ""), id));
    }
  }
  candidates.push(`docker/${id}`, `system.slice/docker-${id}.scope`);
  return candidates;
}
