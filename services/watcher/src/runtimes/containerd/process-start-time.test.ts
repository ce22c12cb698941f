import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nerdctlLogFile } from "./containerd-logs-responder.ts";
import { createProcessStartTimes } from "./process-start-time.ts";

describe("createProcessStartTimes", () => {
  let proc: string;
  beforeEach(async () => {
    proc = await mkdtemp(join(tmpdir(), "crowsnest-proc-"));
    await writeFile(join(proc, "stat"), "cpu  1 2 3\nbtime 1796400000\nprocesses 5\n");
    await mkdir(join(proc, "4242"));
    await writeFile(join(proc, "4242", "cgroup"), "4:memory:/default/web-1\n");
    // starttime (field 22) is 12345 ticks after boot; the command holds a space and a parenthesis.
    const after = ["S", ...Array.from({ length: 18 }, (_, i) => String(i + 1)), "12345", "0"];
    await writeFile(join(proc, "4242", "stat"), `4242 (sh (x) y) ${after.join(" ")}\n`);
  });
  afterEach(async () => {
    await rm(proc, { recursive: true, force: true });
  });

  it("reads a task's start from its stat and the boot time, and keeps it for the task's life", async () => {
    const times = createProcessStartTimes(proc);
    expect(await times.startedNano(4242, "web-1")).toBe(1796400000n * 1_000_000_000n + 123_450_000_000n);
    await rm(join(proc, "4242"), { recursive: true });
    expect(await times.startedNano(4242, "web-1")).toBe(1796400000n * 1_000_000_000n + 123_450_000_000n);
  });

  it("trusts no process outside the container's cgroup, nor a pid that is not there", async () => {
    const times = createProcessStartTimes(proc);
    expect(await times.startedNano(4242, "db-2")).toBeUndefined();
    expect(await times.startedNano(999, "web-1")).toBeUndefined();
    expect(await times.startedNano(0, "web-1")).toBeUndefined();
  });
});

describe("nerdctlLogFile", () => {
  it("names the json-file log in the state directory, only below the data root", () => {
    const stateDir = "/var/lib/nerdctl/1935db59/containers/default/abc";
    expect(nerdctlLogFile({ "nerdctl/state-dir": stateDir }, "/var/lib/nerdctl")).toEqual({
      path: `${stateDir}/abc-json.log`,
    });
    for (const outside of [
      "/etc/abc",
      "/var/lib/nerdctl-other/abc",
      "/var/lib/nerdctl/../x",
      "/var/lib/nerdctl",
    ]) {
      expect(nerdctlLogFile({ "nerdctl/state-dir": outside }, "/var/lib/nerdctl")).toHaveProperty("refusal");
    }
    expect(nerdctlLogFile({}, "/var/lib/nerdctl")).toHaveProperty("refusal");
  });
});
