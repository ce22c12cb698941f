// The collector against a real dockerd and a real NATS server: busybox workloads with and
// without limits, sampled through the Docker API at a short interval, and the host's own stats,
// read back with a plain NATS subscription as any client of the bus contract would.
import { cpus, totalmem, uptime } from "node:os";
import {
  ANY,
  type Bus,
  codecs,
  createLogger,
  DEFAULT_STREAM_RETENTION,
  type Heartbeat,
  type HeartbeatMessage,
  type HostStatsMessage,
  openBus,
  type StatsMessage,
  startHeartbeat,
  streamDefinitions,
  streamName,
} from "@crowsnest/shared";
import { JetStreamAckPublisher, PublishQueue } from "@crowsnest/shared/publishing";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkload, testDocker, type Workload } from "../../../test/support/docker-workloads.ts";
import { connectTestNats, eventually, natsUrl, testSubjectPrefix } from "../../../test/support/test-env.ts";
import { parseCollectorConfig } from "./config.ts";
import { againstTruth, type SchedPoint, schedPoint, truePercent } from "./fixtures/cpu-truth.ts";
import { HostStatsCollector } from "./host/host-stats-collector.ts";
import { HostStatsPublisher } from "./publishing/host-stats-publisher.ts";
import { StatsPublisher } from "./publishing/stats-publisher.ts";
import { createDockerSocketPort } from "./runtimes/docker/docker-socket-port.ts";
import { type DockerSampler, dockerSampler } from "./runtimes/docker/fixtures/docker-sampler.ts";

const MIB = 1024 * 1024;

interface Received {
  subject: string;
  msgId: string | undefined;
  message: StatsMessage;
  /** The busy loop's schedstat when the sample arrived (only for the busy container). */
  sched: SchedPoint | undefined;
}

describe("collector on a real Docker host", () => {
  const prefix = testSubjectPrefix();
  const host = `host-${prefix}`;
  const config = parseCollectorConfig({
    CROWSNEST_NATS_URL: natsUrl(),
    CROWSNEST_SUBJECT_PREFIX: prefix,
    CROWSNEST_HOST_NAME: host,
    CROWSNEST_COLLECT_INTERVAL_MS: "1500",
    CROWSNEST_LOG_LEVEL: "warn",
  });
  if (config.runtime !== "docker") throw new Error("the default runtime is Docker");
  const dockerSettings = config.docker;
  const logger = createLogger({ service: "collector", level: config.common.logLevel, host });
  const docker = testDocker();
  const workloads: Workload[] = [];
  const received: Received[] = [];
  const undecodable: string[] = [];
  const heartbeats: HeartbeatMessage[] = [];
  const hostSamples: { msgId: string | undefined; message: HostStatsMessage }[] = [];
  let busy: Workload;
  let busyPid = 0;
  let limited: Workload;
  let bus: Bus;
  let nc: NatsConnection;
  const dockerPort = createDockerSocketPort({ socketPath: "/var/run/docker.sock", maxSockets: 32 });
  let collector: DockerSampler;
  let publisher: StatsPublisher;
  let acks: JetStreamAckPublisher;
  let queue: PublishQueue;
  let heartbeat: Heartbeat | undefined;

  beforeAll(async () => {
    busy = await startWorkload(docker, {
      script: "while :; do :; done",
      namePrefix: "crowsnest-collector-busy",
    });
    workloads.push(busy);
    busyPid = ((await busy.container.inspect()) as { State: { Pid: number } }).State.Pid;
    limited = await startWorkload(docker, {
      script: "sleep 3600",
      namePrefix: "crowsnest-collector-limited",
      hostConfig: { Memory: 64 * MIB },
    });
    workloads.push(limited);

    bus = await openBus({ config: config.common, service: "collector", host, logger });
    nc = await connectTestNats();
    const stats = nc.subscribe(bus.subjects.stats(host, "docker", ANY));
    void (async () => {
      for await (const msg of stats) {
        const decoded = codecs.stats.decode(msg.data);
        if (!decoded.ok) {
          undecodable.push(`${msg.subject}: ${decoded.detail}`);
          continue;
        }
        received.push({
          subject: msg.subject,
          msgId: msg.headers?.get("Nats-Msg-Id"),
          message: decoded.value,
          sched: decoded.value.container.external_id === busy.id ? schedPoint(busyPid) : undefined,
        });
      }
    })();
    const hostSubscription = nc.subscribe(bus.subjects.hostStats(host));
    void (async () => {
      for await (const msg of hostSubscription) {
        const decoded = codecs.hostStats.decode(msg.data);
        if (!decoded.ok) {
          undecodable.push(`${msg.subject}: ${decoded.detail}`);
          continue;
        }
        hostSamples.push({ msgId: msg.headers?.get("Nats-Msg-Id"), message: decoded.value });
      }
    })();
    const agents = nc.subscribe(bus.subjects.agent(host, "collector"));
    void (async () => {
      for await (const msg of agents) {
        const decoded = codecs.heartbeat.decode(msg.data);
        if (decoded.ok) heartbeats.push(decoded.value);
      }
    })();
    await nc.flush();

    acks = new JetStreamAckPublisher({ nc: bus.nc });
    queue = new PublishQueue({ js: acks, logger, maxBuffered: 10_000, maxInFlight: 64 });
    publisher = new StatsPublisher({ queue, subjects: bus.subjects });
    const hostStats = new HostStatsCollector({
      procRoot: config.procRoot,
      host,
      sink: new HostStatsPublisher({ queue, subjects: bus.subjects }),
      logger,
    });
    collector = dockerSampler({
      docker: dockerPort,
      sink: publisher,
      host,
      intervalMs: config.collectIntervalMs,
      concurrency: config.collectConcurrency,
      dockerTimeoutMs: dockerSettings.timeoutMs,
      logger,
      everyInterval: () => hostStats.sample(),
    });
    await collector.start();
    heartbeat = startHeartbeat({
      nc: bus.nc,
      subjects: bus.subjects,
      host,
      service: "collector",
      runtime: "docker",
      intervalMs: 1000,
      isConnected: () => collector.connected,
      logger,
    });
  });

  afterAll(async () => {
    heartbeat?.stop();
    await collector?.stop();
    await queue?.stop(2000);
    acks?.close();
    dockerPort.close();
    await Promise.all(workloads.map((workload) => workload.remove()));
    if (bus) {
      const jsm = await jetstreamManager(bus.nc);
      for (const { config: stream } of streamDefinitions(bus.subjects, DEFAULT_STREAM_RETENTION)) {
        await jsm.streams.delete(stream.name).catch(() => undefined);
      }
      await bus.drain();
    }
    await nc?.close();
  });

  const samplesOf = (workload: Workload): Received[] =>
    received.filter((r) => r.message.container.external_id === workload.id);

  it("publishes each container's samples with CPU from the second one on, 100 being one core", async () => {
    const samples = await eventually(() => (samplesOf(busy).length >= 4 ? samplesOf(busy) : undefined), {
      timeoutMs: 15_000,
      what: "four samples of the busy container",
    });
    const [first, ...later] = samples.map((r) => r.message);
    expect(first?.cpu_percent).toBeNull();
    expect(first?.interval_ms).toBeNull();
    for (const [index, sample] of later.entries()) {
      // What the loop really got over the interval (the kernel's account, between the samples'
      // arrivals): on this shared machine a busy loop does not always have its core.
      const from = samples[index]?.sched;
      const to = samples[index + 1]?.sched;
      const truth = from && to ? truePercent(from, to) : undefined;
      const detail = `reported ${sample.cpu_percent}; schedstat ${truth?.toFixed(1)}`;
      expect(sample.cpu_percent, detail).toBeGreaterThan(0);
      expect(sample.cpu_percent, detail).toBeLessThanOrEqual(130);
      if (truth !== undefined)
        expect(Math.abs((sample.cpu_percent ?? 0) - truth), detail).toBeLessThanOrEqual(30);
      expect(sample.interval_ms).toBeGreaterThan(1000);
      expect(sample.interval_ms).toBeLessThan(5000);
    }
    expect(first).toMatchObject({
      v: 1,
      host,
      runtime: "docker",
      container: { external_id: busy.id, name: busy.name },
      mem_limit: null,
      cpu_limit_cores: null,
      // Started with `--network none`: the engine reports no networks.
      net_rx_bytes: null,
      net_tx_bytes: null,
    });
    expect(first?.online_cpus).toBeGreaterThanOrEqual(1);
    expect(first?.pids).toBeGreaterThanOrEqual(1);
    // Every message on the subjects is a valid message of the contract.
    expect(undecodable).toEqual([]);
  });

  it("reads a busy loop as one core: the median of its steady-state samples is 100 ± 15 %", async () => {
    // Skip the first sample (no CPU value) and take the median of the next five, so one sample
    // squeezed by another process on this shared 2-core machine does not decide the result.
    const samples = await eventually(() => (samplesOf(busy).length >= 6 ? samplesOf(busy) : undefined), {
      timeoutMs: 20_000,
      what: "six samples of the busy container",
    });
    const steady = samples.slice(0, 6);
    // What the loop really got over the same intervals, from the kernel's per-task account.
    const { reported, truth, detail } = againstTruth(
      steady.map((r) => ({ cpuPercent: r.message.cpu_percent, sched: r.sched })),
    );
    expect(Math.abs(reported - truth), detail).toBeLessThanOrEqual(15);
    // The loop had its core (as on an idle machine): then it reads 100 ± 15.
    if (truth >= 90) {
      expect(reported, detail).toBeGreaterThanOrEqual(85);
      expect(reported, detail).toBeLessThanOrEqual(115);
    }
  });

  it("publishes the host's own CPU, memory, load and uptime, with a message id, the first without CPU", async () => {
    const samples = await eventually(() => (hostSamples.length >= 2 ? hostSamples : undefined), {
      timeoutMs: 10_000,
      what: "two host samples",
    });
    const [first, second] = samples.map((s) => s.message);
    expect(first?.cpu_percent).toBeNull();
    expect(second?.cpu_percent).toBeGreaterThanOrEqual(0);
    expect(second?.cpu_percent).toBeLessThanOrEqual(100);
    // While the busy container runs, the host cannot be idle.
    expect(second?.cpu_percent).toBeGreaterThan(5);
    for (const sample of [first, second]) {
      if (!sample) throw new Error("no host sample");
      expect(sample.host).toBe(host);
      expect(sample.online_cpus).toBe(cpus().length);
      expect(Math.abs(sample.mem_total - totalmem())).toBeLessThan(totalmem() * 0.01);
      expect(sample.mem_used).toBeGreaterThan(0);
      expect(sample.mem_used + sample.mem_available).toBe(sample.mem_total);
      expect(Math.abs(sample.uptime_s - uptime())).toBeLessThan(60);
      expect(sample.load_1).toBeGreaterThanOrEqual(0);
    }
    expect(samples[0]?.msgId).toBe(`${host}/host/${first?.ts}`);
  });

  it("reports the configured memory limit, and none for an unlimited container", async () => {
    const sample = await eventually(() => samplesOf(limited)[0]?.message, {
      timeoutMs: 10_000,
      what: "a sample of the limited container",
    });
    expect(sample.mem_limit).toBe(64 * MIB);
    expect(sample.mem_used).toBeGreaterThan(0);
    expect(sample.mem_used).toBeLessThan(64 * MIB);
    expect(samplesOf(busy)[0]?.message.mem_limit).toBeNull();
  });

  it("publishes on the container's subject with a message id, so a republished sample is stored once", async () => {
    const first = samplesOf(busy)[0];
    if (!first) throw new Error("no sample of the busy container");
    expect(first.subject).toBe(bus.subjects.stats(host, "docker", busy.name));
    expect(first.msgId).toBe(`${host}/docker/${busy.id}/${first.message.ts}`);

    // Stops the host's samples too: they run on the tick's timer.
    await collector.stop();
    expect(await queue.flush(5000)).toBe(true);
    const jsm = await jetstreamManager(bus.nc);
    const telemetry = streamName(bus.subjects, "telemetry");
    const before = (await jsm.streams.info(telemetry)).state.messages;
    const acknowledged = queue.counts().published;
    expect(publisher.publish(first.message)).toEqual({ status: "queued" });
    expect(await queue.flush(5000)).toBe(true);
    // The bus took it again (a duplicate acknowledgement) and stored nothing new.
    expect(queue.counts().published).toBe(acknowledged + 1);
    expect((await jsm.streams.info(telemetry)).state.messages).toBe(before);
  });

  it("says in its heartbeat that Docker is reachable", async () => {
    const beat = await eventually(() => heartbeats.at(-1), { timeoutMs: 5000, what: "a heartbeat" });
    expect(beat).toMatchObject({ service: "collector", runtime: "docker", connected: true, host });
  });
});
