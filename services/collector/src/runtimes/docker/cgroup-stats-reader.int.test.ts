// The cgroup reader's kept-open files on a real host: the kernel's files, not the unit tests'
// fixture trees, decide whether a descriptor kept from before a restart shows the old run's
// numbers or fails. A restarted container must be read from its new cgroup and its new process's
// network, and a stopped one must not be read at all.
import { createLogger } from "@crowsnest/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkload, testDocker, type Workload } from "../../../../../test/support/docker-workloads.ts";
import { eventually } from "../../../../../test/support/test-env.ts";
import type { ContainerFileReader, FileReadResult } from "../../cgroup/cgroup-stats-reader.ts";
import { type ContainerProcess, processFromInspect } from "./container-process.ts";
import { setUpFileReader } from "./file-reader-setup.ts";

describe("CgroupStatsReader on this host's cgroups, across a restart and a stop", () => {
  const docker = testDocker();
  let busy: Workload;
  let reader: ContainerFileReader<ContainerProcess>;

  const processOf = async (): Promise<ContainerProcess> => processFromInspect(await busy.container.inspect());
  const read = (process: ContainerProcess): FileReadResult => {
    expect(reader.beginTick()).toEqual({ ok: true });
    return reader.read(busy.id, process);
  };
  const cpuNs = (result: FileReadResult): number => {
    if (!result.ok) throw new Error(result.detail);
    return result.reading.cpuTotalNs ?? Number.NaN;
  };

  beforeAll(async () => {
    const files = setUpFileReader({
      source: "auto",
      cgroupRoot: "/sys/fs/cgroup",
      procRoot: "/proc",
      logger: createLogger({ service: "collector", level: "warn" }),
    });
    if (files === undefined) throw new Error("this host's cgroup files are not readable: nothing to test");
    reader = files;
    // On the default bridge: a network namespace of its own, whose net/dev the reader keeps open.
    busy = await startWorkload(docker, {
      script: "while :; do :; done",
      namePrefix: "crowsnest-kept-files",
      hostConfig: { NetworkMode: "bridge", NanoCpus: 500_000_000 },
    });
  });

  afterAll(async () => {
    await busy?.remove();
  });

  it("reads the new run after a restart, and nothing once the container stopped", async () => {
    const first = await processOf();
    // Enough CPU time that the new run's counter, read right after the restart, is lower.
    const beforeRestart = await eventually(
      () => {
        const result = read(first);
        return result.ok && (result.reading.cpuTotalNs ?? 0) > 300_000_000 ? result : undefined;
      },
      { timeoutMs: 20_000, what: "the busy loop to use 0.3 s of CPU" },
    );
    expect(beforeRestart.ok && beforeRestart.reading.netRxBytes).not.toBeNull();

    await busy.container.restart({ t: 0 });
    const second = await processOf();
    expect(second.pid).not.toBe(first.pid);

    // Still told the old PID (as with a cached inspect): the old descriptors fail, the cgroup is
    // found again, and the old process, gone, is not trusted for the network.
    expect(read(first)).toMatchObject({ ok: false, detail: expect.stringContaining(`${first.pid}`) });
    const afterRestart = read(second);
    expect(cpuNs(afterRestart)).toBeLessThan(cpuNs(beforeRestart));
    expect(afterRestart.ok && afterRestart.reading.netRxBytes).not.toBeNull();

    await busy.container.stop({ t: 0 });
    expect(read(second)).toMatchObject({ ok: false });
  });
});
