// Limits on the cgroup path against real containers: the limits sent are the ones inspected, a
// `docker update` shows at the next check of the limit files (when the container list is fetched)
// without waiting for the limits' TTL, and containers whose limits did not change are not
// inspected again, however long they run.
import { createLogger } from "@crowsnest/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkload, testDocker, type Workload } from "../../../../../test/support/docker-workloads.ts";
import { CaptureSink } from "../../fixtures/capture-sink.ts";
import type { DockerPort } from "./docker-port.ts";
import { createDockerSocketPort } from "./docker-socket-port.ts";
import { setUpFileReader } from "./file-reader-setup.ts";
import { type DockerSampler, dockerSampler } from "./fixtures/docker-sampler.ts";

const MIB = 1024 * 1024;
const LIST_MAX_AGE_MS = 60_000;
const LIMITS_TTL_MS = 300_000;

describe("limits on the cgroup path, with `docker update`", () => {
  const docker = testDocker();
  const workloads: Workload[] = [];
  const sink = new CaptureSink();
  const inspected: string[] = [];
  let limited: Workload;
  let quota: Workload;
  let unlimited: Workload;
  let sampler: DockerSampler;
  let closeDockerPort: (() => void) | undefined;
  // The clock of list ages and of the limits' TTL: ten minutes pass in a few ticks.
  let nowMs = Date.now();

  beforeAll(async () => {
    limited = await startWorkload(docker, {
      script: "sleep 3600",
      namePrefix: "crowsnest-limits-limited",
      hostConfig: { Memory: 64 * MIB, MemorySwap: 128 * MIB, NanoCpus: 500_000_000 },
    });
    workloads.push(limited);
    quota = await startWorkload(docker, {
      script: "sleep 3600",
      namePrefix: "crowsnest-limits-quota",
      hostConfig: { CpuQuota: 150_000, CpuPeriod: 100_000 },
    });
    workloads.push(quota);
    unlimited = await startWorkload(docker, { script: "sleep 3600", namePrefix: "crowsnest-limits-none" });
    workloads.push(unlimited);
    const ids = new Set(workloads.map((w) => w.id));

    // Only this test's containers: other tests' containers on the same dockerd are not ours.
    const real = createDockerSocketPort({ socketPath: "/var/run/docker.sock", maxSockets: 8 });
    closeDockerPort = () => real.close();
    const port: DockerPort = {
      ...real,
      async listContainers(signal) {
        const listed = await real.listContainers(signal);
        return (listed as { Id: string }[]).filter((entry) => ids.has(entry.Id));
      },
      inspectContainer(id, signal) {
        inspected.push(id);
        return real.inspectContainer(id, signal);
      },
    };
    const logger = createLogger({ service: "collector", level: "warn" });
    const files = setUpFileReader({
      source: "auto",
      cgroupRoot: "/sys/fs/cgroup",
      procRoot: "/proc",
      logger,
    });
    if (files === undefined)
      throw new Error("this host's cgroup files are not readable: no fast path to test");
    sampler = dockerSampler({
      docker: port,
      sink,
      files,
      host: "limits",
      intervalMs: 60_000,
      concurrency: 8,
      dockerTimeoutMs: 5000,
      listMaxAgeMs: LIST_MAX_AGE_MS,
      limitsTtlMs: LIMITS_TTL_MS,
      now: () => nowMs,
      logger,
    });
  });

  afterAll(async () => {
    closeDockerPort?.();
    await Promise.all(workloads.map((workload) => workload.remove()));
  });

  it("sends the limits inspected, read from the files", async () => {
    expect(await sampler.tick()).toMatchObject({ viaFiles: 3, viaApi: 0, listed: true });
    expect(sink.last(limited.id)).toMatchObject({ mem_limit: 64 * MIB, cpu_limit_cores: 0.5 });
    expect(sink.last(quota.id)).toMatchObject({ mem_limit: null, cpu_limit_cores: 1.5 });
    expect(sink.last(unlimited.id)).toMatchObject({ mem_limit: null, cpu_limit_cores: null });
    expect(inspected).toHaveLength(3);
  });

  it("inspects none of them again over twice the limits' TTL while their limits stay", async () => {
    for (let minute = 1; minute <= (2 * LIMITS_TTL_MS) / LIST_MAX_AGE_MS; minute++) {
      nowMs += LIST_MAX_AGE_MS;
      expect(await sampler.tick()).toMatchObject({ viaFiles: 3, listed: true });
    }
    expect(inspected).toHaveLength(3);
    expect(sink.last(limited.id)).toMatchObject({ mem_limit: 64 * MIB, cpu_limit_cores: 0.5 });
  });

  it("shows a `docker update` at the next list, inspecting only the containers updated", async () => {
    await limited.container.update({ Memory: 96 * MIB, MemorySwap: 192 * MIB, NanoCpus: 1_000_000_000 });
    await unlimited.container.update({ Memory: 48 * MIB, MemorySwap: 96 * MIB });
    // Within the list's age: the list and the limit files are not read again yet.
    nowMs += 10_000;
    expect(await sampler.tick()).toMatchObject({ listed: false });
    expect(sink.last(limited.id)).toMatchObject({ mem_limit: 64 * MIB, cpu_limit_cores: 0.5 });
    nowMs += LIST_MAX_AGE_MS;
    expect(await sampler.tick()).toMatchObject({ viaFiles: 3, listed: true });
    expect(sink.last(limited.id)).toMatchObject({ mem_limit: 96 * MIB, cpu_limit_cores: 1 });
    expect(sink.last(unlimited.id)).toMatchObject({ mem_limit: 48 * MIB, cpu_limit_cores: null });
    expect(sink.last(quota.id)).toMatchObject({ mem_limit: null, cpu_limit_cores: 1.5 });
    expect(inspected.slice(3).sort()).toEqual([limited.id, unlimited.id].sort());
    // From then on the new limits are the ones compared.
    nowMs += LIST_MAX_AGE_MS;
    await sampler.tick();
    expect(inspected).toHaveLength(5);
    expect(sink.last(limited.id)).toMatchObject({ mem_limit: 96 * MIB, cpu_limit_cores: 1 });
  });
});
