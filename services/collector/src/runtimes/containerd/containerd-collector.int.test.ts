// The containerd runtime against the tests' own containerd (test/infra/containerd/start.sh) and
// a real NATS server: a busy loop and a container under a 32 MiB limit made with `ctr` as a
// nerdctl or ctr user would, sampled from their cgroup files, published, and read back with a
// plain subscription; the same containers through `Tasks.Metrics` alone; and the two paths'
// counters side by side. The busy loop gets a network namespace with a veth interface of its
// own (ctr makes one with only a loopback), so its network counters are there to read.
// Every container, namespace and interface it makes is removed by name afterwards; nothing else
// is touched.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { ANY, type Bus, codecs, createLogger, openBus, type StatsMessage } from "@crowsnest/shared";
import { ContainerdClient } from "@crowsnest/shared/containerd";
import { JetStreamAckPublisher, PublishQueue } from "@crowsnest/shared/publishing";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { deleteTestStreams, recordMessages } from "../../../../../test/support/bus-fixtures.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
} from "../../../../../test/support/test-env.ts";
import type { CgroupStatsReader } from "../../cgroup/cgroup-stats-reader.ts";
import { setUpCgroupReader } from "../../cgroup/file-reader-setup.ts";
import { parseCollectorConfig } from "../../config.ts";
import { StatsSampler } from "../../core/stats-sampler.ts";
import type { StatsSink } from "../../core/stats-sink.ts";
import { againstTruth, type SchedPoint, schedPoint } from "../../fixtures/cpu-truth.ts";
import { StatsPublisher } from "../../publishing/stats-publisher.ts";
import { type ContainerdProcess, containerdRecord, metricsReading } from "./containerd-reading.ts";
import { containerdCgroupNaming } from "./containerd-runtime.ts";
import { ContainerdStatsRuntime, type ContainerdTickDetail } from "./containerd-stats-runtime.ts";

const socket = inject("containerdSocket");
const image = `docker.io/${inject("workloadImage")}`;
const NAMESPACE = "default";
const MIB = 1024 * 1024;
const run = promisify(execFile);

async function ctr(...args: string[]): Promise<string> {
  const { stdout } = await run("ctr", ["--address", socket, "--namespace", NAMESPACE, ...args]);
  return stdout;
}

async function ip(...args: string[]): Promise<void> {
  await run("ip", args);
}

/**
 * The median of the reported CPU against the median of what the loop really got over the same
 * intervals (the kernel's per-task account): on this shared 2-core machine other work can take
 * the loop's core. When it had its core, it reads as one: more than half a core, at most 1.3.
 */
function expectCpuAsItReallyWas(
  samples: readonly { message: StatsMessage; sched: SchedPoint | undefined }[],
): void {
  const { reported, truth, detail } = againstTruth(
    samples.map((sample) => ({ cpuPercent: sample.message.cpu_percent, sched: sample.sched })),
  );
  expect(Math.abs(reported - truth), detail).toBeLessThanOrEqual(15);
  if (truth >= 90) {
    expect(reported, detail).toBeGreaterThan(50);
    expect(reported, detail).toBeLessThanOrEqual(130);
  }
}

describe.skipIf(!socket)("collector on a real containerd host", () => {
  const suffix = randomBytes(3).toString("hex");
  const busyId = `crowsnest-test-busy-${suffix}`;
  const limitedId = `crowsnest-test-limited-${suffix}`;
  const netns = `crowsnest-test-${suffix}`;
  const hostVeth = `cn${suffix}h`;
  const containerVeth = `cn${suffix}c`;
  const prefix = testSubjectPrefix();
  const host = `host-${prefix}`;
  const config = parseCollectorConfig({
    CROWSNEST_RUNTIME: "containerd",
    CROWSNEST_CONTAINERD_SOCKET: socket || "/run/containerd/containerd.sock",
    CROWSNEST_NATS_URL: natsUrl(),
    CROWSNEST_SUBJECT_PREFIX: prefix,
    CROWSNEST_HOST_NAME: host,
    CROWSNEST_LOG_LEVEL: "warn",
  });
  if (config.runtime !== "containerd") throw new Error("CROWSNEST_RUNTIME=containerd reads containerd");
  const settings = config.containerd;
  const logger = createLogger({ service: "collector", level: config.common.logLevel, host });
  const client = new ContainerdClient({ socketPath: settings.socketPath });
  const received: StatsMessage[] = [];
  /** What arrived on the busy loop's own subject. */
  const onBusySubject: StatsMessage[] = [];
  /** The busy loop's schedstat when each of its samples was built, by the sample's time. */
  const busySched = new Map<string, SchedPoint | undefined>();
  let busyPid = 0;
  const undecodable: string[] = [];
  let files: CgroupStatsReader<ContainerdProcess> | undefined;
  let bus: Bus;
  let nc: NatsConnection;
  let acks: JetStreamAckPublisher;
  let queue: PublishQueue;
  let sampler: StatsSampler<ContainerdTickDetail>;

  beforeAll(async () => {
    await ip("netns", "add", netns);
    await ip("link", "add", hostVeth, "type", "veth", "peer", "name", containerVeth);
    await ip("link", "set", containerVeth, "netns", netns);
    await ip("-n", netns, "link", "set", containerVeth, "up");
    await ip("link", "set", hostVeth, "up");
    await ctr(
      "run",
      "-d",
      "--label",
      "nerdctl/name=busy-loop",
      "--with-ns",
      `network:/var/run/netns/${netns}`,
      image,
      busyId,
      "sh",
      "-c",
      "while :; do :; done",
    );
    await ctr("run", "-d", "--memory-limit", String(32 * MIB), image, limitedId, "sleep", "3600");
    busyPid = (await client.task(NAMESPACE, busyId, AbortSignal.timeout(10_000)))?.pid ?? 0;

    bus = await openBus({ config: config.common, service: "collector", host, logger });
    nc = await connectTestNats();
    recordMessages(nc, bus.subjects.stats(host, "containerd", ANY), codecs.stats, received, undecodable);
    // The subject names the container by its name, as for Docker.
    recordMessages(
      nc,
      bus.subjects.stats(host, "containerd", "busy-loop"),
      codecs.stats,
      onBusySubject,
      undecodable,
    );
    await nc.flush();

    files = setUpCgroupReader({
      source: settings.statsSource,
      cgroupRoot: settings.cgroupRoot,
      procRoot: config.procRoot,
      naming: containerdCgroupNaming,
      apiName: "containerd's Metrics API",
      logger,
    });
    acks = new JetStreamAckPublisher({ nc: bus.nc });
    queue = new PublishQueue({ js: acks, logger, maxBuffered: 10_000, maxInFlight: 64 });
    sampler = new StatsSampler({
      runtime: new ContainerdStatsRuntime({
        containerd: client,
        namespaces: settings.namespaces,
        timeoutMs: settings.timeoutMs,
        files,
        procRoot: config.procRoot,
        logger,
      }),
      sink: withBusySched(new StatsPublisher({ queue, subjects: bus.subjects }), (message) =>
        busySched.set(message.ts, schedPoint(busyPid)),
      ),
      host,
      intervalMs: 1500,
      logger,
    });
    await sampler.start();
  });

  afterAll(async () => {
    await sampler?.stop();
    await queue?.stop(2000);
    acks?.close();
    for (const id of [busyId, limitedId]) {
      await ctr("tasks", "kill", "--signal", "SIGKILL", id).catch(() => undefined);
      await ctr("tasks", "delete", "--force", id).catch(() => undefined);
      await ctr("containers", "delete", id).catch(() => undefined);
    }
    // Removing the namespace removes the container's end of the veth pair, and with it the host's.
    await ip("netns", "delete", netns).catch(() => undefined);
    await ip("link", "delete", hostVeth).catch(() => undefined);
    client.close();
    if (bus) {
      await deleteTestStreams(bus.nc, prefix);
      await bus.drain();
    }
    await nc?.close();
  });

  const samplesOf = (id: string) => received.filter((message) => message.container.external_id === id);
  /** A sink that notes the busy loop's schedstat as each of its samples is handed over. */
  const withBusySched = (sink: StatsSink, note: (message: StatsMessage) => void): StatsSink => ({
    publish: (message) => {
      if (message.container.external_id === busyId) note(message);
      return sink.publish(message);
    },
    batchComplete: () => sink.batchComplete?.(),
  });

  it("publishes a busy loop with its nerdctl name, network counters and subject, at the CPU it really got", async () => {
    const samples = await eventually(() => (samplesOf(busyId).length >= 6 ? samplesOf(busyId) : undefined), {
      timeoutMs: 30_000,
      what: "six samples of the busy loop",
    });
    const steady = samples.slice(0, 6);
    const [first, ...later] = steady;
    expect(first?.cpu_percent).toBeNull();
    expect(onBusySubject.map((message) => message.ts)).toContain(first?.ts);
    expect(first).toMatchObject({
      v: 1,
      host,
      runtime: "containerd",
      container: { external_id: busyId, name: "busy-loop" },
      mem_limit: null,
      cpu_limit_cores: null,
    });
    for (const message of later) {
      expect(message.net_rx_bytes).toEqual(expect.any(Number));
      expect(message.net_tx_bytes).toEqual(expect.any(Number));
      expect(message.net_rx_bytes_per_s).toEqual(expect.any(Number));
      expect(message.pids).toBeGreaterThanOrEqual(1);
      expect(message.online_cpus).toBeGreaterThanOrEqual(1);
    }
    expectCpuAsItReallyWas(steady.map((message) => ({ message, sched: busySched.get(message.ts) })));
    // Every message on the subjects is a valid message of the contract (its JSON Schema included).
    expect(undecodable).toEqual([]);
  });

  it("reports the 32 MiB limit from the container's spec, and no network for a loopback-only namespace", async () => {
    const [sample] = await eventually(
      () => (samplesOf(limitedId).length >= 1 ? samplesOf(limitedId) : undefined),
      {
        timeoutMs: 20_000,
        what: "a sample of the limited container",
      },
    );
    expect(sample).toMatchObject({
      runtime: "containerd",
      // No nerdctl name: the id.
      container: { external_id: limitedId, name: limitedId },
      mem_limit: 32 * MIB,
      net_rx_bytes: null,
      net_tx_bytes: null,
    });
    expect(sample?.mem_used).toBeGreaterThan(0);
    expect(sample?.mem_used).toBeLessThan(32 * MIB);
  });

  it("gives the same counters from the cgroup files as from Tasks.Metrics", async () => {
    if (files === undefined) throw new Error("this host's cgroup files are not readable");
    const containers = await client.containers(NAMESPACE, AbortSignal.timeout(10_000));
    const tasks = await client.tasks(NAMESPACE, AbortSignal.timeout(10_000));
    for (const id of [busyId, limitedId]) {
      const container = containers.find((entry) => entry.id === id);
      const pid = tasks.find((entry) => entry.containerId === id)?.pid;
      if (container === undefined || pid === undefined) throw new Error(`${id} is not running`);
      const process = { record: containerdRecord(NAMESPACE, container), pid };
      // Metrics read between two file reads: a cumulative counter from it lies between theirs.
      expect(files.beginTick()).toEqual({ ok: true });
      const before = files.read(`check-${id}`, process);
      const [metric] = await client.metrics(NAMESPACE, [`id==${id}`], AbortSignal.timeout(10_000));
      const after = files.read(`check-${id}`, process);
      if (!before.ok || !after.ok) throw new Error("cgroup files not readable");
      if (metric === undefined) throw new Error("no Metrics entry");
      const viaMetrics = metricsReading(metric, { onlineCpus: null, readAtMs: Date.now() });
      if (!viaMetrics.ok) throw new Error(viaMetrics.detail);
      const cpu = viaMetrics.reading.cpuTotalNs ?? -1;
      expect(cpu).toBeGreaterThanOrEqual(before.reading.cpuTotalNs ?? Number.POSITIVE_INFINITY);
      expect(cpu).toBeLessThanOrEqual(after.reading.cpuTotalNs ?? -1);
      expect(viaMetrics.reading.pids).toBe(after.reading.pids);
      expect(viaMetrics.reading.blkReadBytes).toBe(after.reading.blkReadBytes);
      expect(viaMetrics.reading.blkWriteBytes).toBe(after.reading.blkWriteBytes);
      // Memory moves a little between reads (page tables, the shell's own allocations).
      expect(
        Math.abs((viaMetrics.reading.memUsedBytes ?? 0) - (after.reading.memUsedBytes ?? 0)),
      ).toBeLessThan(MIB);
    }
    files.retainOnly(new Set());
  });

  it("samples the same containers through Tasks.Metrics alone (CROWSNEST_STATS_SOURCE=api), CPU included", async () => {
    const viaMetrics: { message: StatsMessage; sched: SchedPoint | undefined }[] = [];
    const metricsOnly = new StatsSampler({
      runtime: new ContainerdStatsRuntime({
        containerd: client,
        namespaces: [NAMESPACE],
        timeoutMs: settings.timeoutMs,
        files: undefined,
        procRoot: config.procRoot,
        logger,
      }),
      sink: {
        publish: (message) => {
          const sched = message.container.external_id === busyId ? schedPoint(busyPid) : undefined;
          viaMetrics.push({ message, sched });
          return { status: "published" };
        },
      },
      host,
      intervalMs: 60_000,
      logger,
    });
    const busyCpuNs = async () => {
      const [metric] = await client.metrics(NAMESPACE, [`id==${busyId}`], AbortSignal.timeout(10_000));
      const read =
        metric === undefined ? undefined : metricsReading(metric, { onlineCpus: null, readAtMs: 0 });
      return read?.ok ? (read.reading.cpuTotalNs ?? 0) : 0;
    };
    for (let tick = 0; tick < 4; tick++) {
      const startNs = await busyCpuNs();
      await metricsOnly.tick();
      // Intervals long enough for a percentage to mean something: the loop has run 200 ms more.
      await eventually(async () => ((await busyCpuNs()) - startNs >= 200e6 ? true : undefined), {
        timeoutMs: 10_000,
        what: "the busy loop to use 200 ms of CPU",
      });
    }
    const busySamples = viaMetrics.filter((entry) => entry.message.container.external_id === busyId);
    expect(busySamples).toHaveLength(4);
    expect(busySamples[0]?.message.cpu_percent).toBeNull();
    expectCpuAsItReallyWas(busySamples);
    // Network still comes from the task's /proc/<pid>/net/dev.
    expect(busySamples[1]?.message.net_rx_bytes).toEqual(expect.any(Number));
    const limited = viaMetrics.find((entry) => entry.message.container.external_id === limitedId);
    expect(limited?.message).toMatchObject({ runtime: "containerd", mem_limit: 32 * MIB });
  });
});
