// The cgroup fast path against the Docker API path on the same real containers, side by side:
// a busy loop, a container that filled 64 MiB of /dev/shm, and an idle one on a bridge network of
// this test (whose network counters come from /proc/<pid>/net/dev). Both paths must give the
// same numbers.
import { createLogger } from "@crowsnest/shared";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startWorkload,
  TEST_LABEL,
  testDocker,
  type Workload,
} from "../../../../../test/support/docker-workloads.ts";
import { eventually, uniqueSuffix } from "../../../../../test/support/test-env.ts";
import { captureLogger, linesWith } from "../../fixtures/capture-logger.ts";
import { CaptureSink } from "../../fixtures/capture-sink.ts";
import { median, type SchedPoint, schedPoint, truePercent } from "../../fixtures/cpu-truth.ts";
import type { DockerPort } from "./docker-port.ts";
import { createDockerSocketPort } from "./docker-socket-port.ts";
import { setUpFileReader } from "./file-reader-setup.ts";
import { dockerSampler } from "./fixtures/docker-sampler.ts";

const MIB = 1024 * 1024;
const PAGE = 4096;
const TICKS = 6;

describe("cgroup files and the Docker API, side by side", () => {
  const docker = testDocker();
  const workloads: Workload[] = [];
  const viaApi = new CaptureSink();
  const viaFiles = new CaptureSink();
  const { logger: filesLogger, lines: filesLog } = captureLogger();
  const busySched: SchedPoint[] = [];
  let busy: Workload;
  let shm: Workload;
  let bridged: Workload;
  let filesSummaries: { viaFiles: number; viaApi: number }[] = [];
  let closeDockerPort: (() => void) | undefined;
  let network: Docker.Network | undefined;

  beforeAll(async () => {
    busy = await startWorkload(docker, {
      script: "while :; do :; done",
      namePrefix: "crowsnest-cgroup-busy",
    });
    workloads.push(busy);
    shm = await startWorkload(docker, {
      script: "dd if=/dev/zero of=/dev/shm/x bs=1M count=64; sleep 3600",
      namePrefix: "crowsnest-cgroup-shm",
      hostConfig: { ShmSize: 256 * MIB },
    });
    workloads.push(shm);
    // A bridge of its own: docker0 is shared with every test on this dockerd.
    network = await docker.createNetwork({
      Name: `crowsnest-cgroup-${uniqueSuffix()}`,
      Driver: "bridge",
      Labels: { [TEST_LABEL]: "1" },
    });
    bridged = await startWorkload(docker, {
      script: "sleep 3600",
      namePrefix: "crowsnest-cgroup-bridged",
      hostConfig: { NetworkMode: network.id },
    });
    workloads.push(bridged);
    const ids = new Set(workloads.map((w) => w.id));
    const busyPid = ((await busy.container.inspect()) as { State: { Pid: number } }).State.Pid;

    // Only this test's containers: other tests' containers on the same dockerd are not ours to time.
    const real = createDockerSocketPort({ socketPath: "/var/run/docker.sock", maxSockets: 8 });
    closeDockerPort = () => real.close();
    const port: DockerPort = {
      ...real,
      async listContainers(signal) {
        const listed = await real.listContainers(signal);
        return (listed as { Id: string }[]).filter((entry) => ids.has(entry.Id));
      },
    };
    const quiet = createLogger({ service: "collector", level: "warn" });
    const files = setUpFileReader({
      source: "auto",
      cgroupRoot: "/sys/fs/cgroup",
      procRoot: "/proc",
      logger: quiet,
    });
    if (files === undefined)
      throw new Error("this host's cgroup files are not readable: no fast path to test");
    const common = {
      docker: port,
      host: "side-by-side",
      intervalMs: 60_000,
      concurrency: 8,
      dockerTimeoutMs: 5000,
    };
    const apiCollector = dockerSampler({ ...common, sink: viaApi, logger: quiet });
    const filesCollector = dockerSampler({ ...common, sink: viaFiles, files, logger: filesLogger });

    // The dd must have finished before the memory is compared.
    await eventually(
      async () => {
        const stats = (await shm.container.stats({ stream: false })) as { memory_stats?: { usage?: number } };
        return (stats.memory_stats?.usage ?? 0) >= 64 * MIB ? true : undefined;
      },
      { timeoutMs: 15_000, what: "the shm container to fill /dev/shm" },
    );

    // Both paths tick together; an API tick takes about 1 s (dockerd's collection cycle).
    filesSummaries = [];
    for (let i = 0; i < TICKS; i++) {
      const [, summary] = await Promise.all([apiCollector.tick(), filesCollector.tick()]);
      filesSummaries.push({ viaFiles: summary.viaFiles, viaApi: summary.viaApi });
      const point = schedPoint(busyPid);
      if (point) busySched.push(point);
      if (i < TICKS - 1) await new Promise((resolve) => setTimeout(resolve, 300));
    }
  });

  afterAll(async () => {
    closeDockerPort?.();
    await Promise.all(workloads.map((workload) => workload.remove()));
    await network?.remove().catch(() => undefined);
  });

  it("reads every container from its files, after saying at debug level that it does", () => {
    for (const summary of filesSummaries) expect(summary).toEqual({ viaFiles: 3, viaApi: 0 });
    expect(linesWith(filesLog, "debug", "container read from its cgroup files")).toHaveLength(3);
    expect(viaFiles.messages).toHaveLength(3 * TICKS);
    expect(viaApi.messages).toHaveLength(3 * TICKS);
  });

  it("agrees on a busy loop's CPU within a few points, and both read it as one core", () => {
    const api = viaApi
      .of(busy.id)
      .slice(1)
      .map((m) => m.cpu_percent ?? Number.NaN);
    const files = viaFiles
      .of(busy.id)
      .slice(1)
      .map((m) => m.cpu_percent ?? Number.NaN);
    const truth = busySched.slice(1).map((point, i) => truePercent(busySched[i] as SchedPoint, point));
    const detail = `API ${api.map((v) => v.toFixed(1))}; files ${files.map((v) => v.toFixed(1))}; schedstat ${truth.map((v) => v.toFixed(1))}`;
    expect(viaFiles.of(busy.id)[0]?.cpu_percent).toBeNull();
    expect(Math.abs(median(api) - median(files)), detail).toBeLessThanOrEqual(5);
    expect(Math.abs(median(files) - median(truth)), detail).toBeLessThanOrEqual(15);
    // The loop had its core (as on an idle machine): then both read 100 ± 15.
    if (median(truth) >= 90) {
      for (const value of [median(api), median(files)]) {
        expect(value, detail).toBeGreaterThanOrEqual(85);
        expect(value, detail).toBeLessThanOrEqual(115);
      }
    }
  });

  it("agrees on memory within 1 %, and counts 64 MiB of /dev/shm on both paths", () => {
    for (const workload of workloads) {
      const api = viaApi.of(workload.id).at(-1)?.mem_used ?? Number.NaN;
      const [previous, files] = viaFiles
        .of(workload.id)
        .slice(-2)
        .map((message) => message.mem_used ?? Number.NaN) as [number, number];
      // dockerd reads the cgroup at its own moment, a little before or after the files are read
      // in the same tick: its figure must lie within what the files showed over the last two
      // ticks (one figure when the memory stands still), give or take 1 %, but at least two pages
      // for a container using almost nothing (a page is the unit).
      const tolerance = Math.max(0.01 * Math.max(api, files), 2 * PAGE);
      const detail = `${workload.name}: API ${api}, files ${previous} then ${files}`;
      expect(api, detail).toBeGreaterThanOrEqual(Math.min(previous, files) - tolerance);
      expect(api, detail).toBeLessThanOrEqual(Math.max(previous, files) + tolerance);
    }
    expect(viaApi.of(shm.id).at(-1)?.mem_used).toBeGreaterThanOrEqual(60 * MIB);
    expect(viaFiles.of(shm.id).at(-1)?.mem_used).toBeGreaterThanOrEqual(60 * MIB);
  });

  it("agrees on block I/O, pids, network, limits and CPUs", () => {
    for (const workload of workloads) {
      const api = viaApi.of(workload.id).at(-1);
      const files = viaFiles.of(workload.id).at(-1);
      if (!api || !files) throw new Error(`no samples of ${workload.name}`);
      expect(Math.abs((api.blk_read_bytes ?? -1) - (files.blk_read_bytes ?? -1))).toBeLessThanOrEqual(PAGE);
      expect(Math.abs((api.blk_write_bytes ?? -1) - (files.blk_write_bytes ?? -1))).toBeLessThanOrEqual(PAGE);
      expect(files.pids).toBe(api.pids);
      expect(files.pids).toBeGreaterThanOrEqual(1);
      expect(files.online_cpus).toBe(api.online_cpus);
      expect(files.mem_limit).toBe(api.mem_limit);
      expect(files.cpu_limit_cores).toBe(api.cpu_limit_cores);
    }
    // `--network none`: no figures on either path.
    expect(viaFiles.of(busy.id).at(-1)).toMatchObject({ net_rx_bytes: null, net_tx_bytes: null });
    expect(viaApi.of(busy.id).at(-1)).toMatchObject({ net_rx_bytes: null, net_tx_bytes: null });
    // On the bridge: the container's eth0 as both see it (an idle container's counters barely move).
    const api = viaApi.of(bridged.id).at(-1);
    const files = viaFiles.of(bridged.id).at(-1);
    expect(files?.net_rx_bytes).toEqual(expect.any(Number));
    expect(Math.abs((api?.net_rx_bytes ?? -1) - (files?.net_rx_bytes ?? -1))).toBeLessThanOrEqual(1024);
    expect(Math.abs((api?.net_tx_bytes ?? -1) - (files?.net_tx_bytes ?? -1))).toBeLessThanOrEqual(1024);
  });
});
