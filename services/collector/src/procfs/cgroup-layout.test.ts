import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { containerCgroupCandidates, detectCgroupLayout, expandSlice } from "./cgroup-layout.ts";
import { CGROUP_V1_ROOTS, CGROUP_V2_ROOTS, type FileTree, fileTree } from "./fixtures/file-tree.ts";

const trees: FileTree[] = [];
afterEach(() => {
  for (const tree of trees.splice(0)) tree.cleanup();
});
function tree(files: Record<string, string>): FileTree {
  const made = fileTree(files);
  trees.push(made);
  return made;
}

describe("detectCgroupLayout", () => {
  it("recognizes cgroup v2 by its root's controller list", () => {
    const { root } = tree(CGROUP_V2_ROOTS);
    expect(detectCgroupLayout(root)).toEqual({ ok: true, layout: { version: 2, root } });
  });

  it("recognizes cgroup v1 with cpuacct mounted alone (as on this project's test machine)", () => {
    const { root } = tree(CGROUP_V1_ROOTS);
    expect(detectCgroupLayout(root)).toEqual({
      ok: true,
      layout: {
        version: 1,
        root,
        cpuacct: join(root, "cpuacct"),
        memory: join(root, "memory"),
        blkio: join(root, "blkio"),
        pids: join(root, "pids"),
      },
    });
  });

  it("recognizes cgroup v1 with cpu and cpuacct co-mounted, and without the optional controllers", () => {
    const { root } = tree({
      "cpu,cpuacct/cpuacct.usage": "1\n",
      "memory/memory.usage_in_bytes": "1\n",
    });
    expect(detectCgroupLayout(root)).toMatchObject({
      ok: true,
      layout: { version: 1, cpuacct: join(root, "cpu,cpuacct"), blkio: null, pids: null },
    });
  });

  it("says why when the files are not there", () => {
    const empty = tree({});
    expect(detectCgroupLayout(empty.root)).toMatchObject({
      ok: false,
      reason: expect.stringContaining("neither"),
    });
    expect(detectCgroupLayout(join(empty.root, "nope"))).toMatchObject({
      ok: false,
      reason: expect.stringContaining("does not exist"),
    });
  });
});

describe("containerCgroupCandidates", () => {
  it("tries the cgroupfs and then the systemd driver's directory", () => {
    expect(containerCgroupCandidates("abc", null)).toEqual(["docker/abc", "system.slice/docker-abc.scope"]);
  });

  it("tries a configured --cgroup-parent first, as a path or as a systemd slice", () => {
    expect(containerCgroupCandidates("abc", "/ci/jobs")[0]).toBe("ci/jobs/abc");
    expect(containerCgroupCandidates("abc", "ci-jobs.slice")[0]).toBe(
      "ci.slice/ci-jobs.slice/docker-abc.scope",
    );
  });

  it("expands systemd slice names into their nesting", () => {
    expect(expandSlice("a-b-c.slice")).toBe("a.slice/a-b.slice/a-b-c.slice");
    expect(expandSlice("system.slice")).toBe("system.slice");
    expect(expandSlice("-.slice")).toBe("");
  });
});
