// A NATS outage loses no sample: the real collector (src/main.ts, as it ships) samples a busy
// container every second into a private nats-server, which this test stops for about 5 s and
// starts again on the same store directory. Afterwards the stream must hold one sample of the
// container for every tick, the outage's included, each once, in order.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codecs, createSubjects, type StatsMessage, streamName } from "@crowsnest/shared";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkload, testDocker, type Workload } from "../../../test/support/docker-workloads.ts";
import { type ServiceProcess, startService } from "../../../test/support/service-process.ts";
import { eventually, testSubjectPrefix } from "../../../test/support/test-env.ts";

const INTERVAL_MS = 1000;
const OUTAGE_MS = 5000;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** A nats-server of this test alone, so stopping it disturbs nobody else. */
class PrivateNats {
  readonly url: string;
  readonly #port: number;
  readonly #storeDir: string;
  #process: ChildProcess | undefined;

  constructor(port: number, storeDir: string) {
    this.#port = port;
    this.#storeDir = storeDir;
    this.url = `nats://127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      "/usr/sbin/nats-server",
      ["-js", "-a", "127.0.0.1", "-p", String(this.#port), "-sd", this.#storeDir],
      { stdio: "ignore" },
    );
    this.#process = child;
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}`);
        const nc = await connect({ servers: this.url, reconnect: false, timeout: 500 });
        await nc.close();
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: "the private nats-server to accept connections" },
    );
  }

  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await exited;
  }
}

describe("collector through a NATS outage", () => {
  const prefix = testSubjectPrefix();
  const host = `host-${prefix}`;
  const subjects = createSubjects(prefix);
  const storeDir = mkdtempSync(join(tmpdir(), "crowsnest-nats-"));
  const docker = testDocker();
  let nats: PrivateNats;
  let busy: Workload | undefined;
  let collector: ServiceProcess | undefined;
  let nc: NatsConnection | undefined;
  let outageFromMs = 0;
  let outageToMs = 0;
  const samples: { seq: number; message: StatsMessage }[] = [];

  beforeAll(async () => {
    nats = new PrivateNats(await freePort(), storeDir);
    await nats.start();
    busy = await startWorkload(docker, {
      script: "while :; do :; done",
      namePrefix: "crowsnest-outage-busy",
    });
    collector = startService("collector", {
      CROWSNEST_NATS_URL: nats.url,
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HOST_NAME: host,
      CROWSNEST_COLLECT_INTERVAL_MS: String(INTERVAL_MS),
      CROWSNEST_HEARTBEAT_INTERVAL_MS: "1000",
      CROWSNEST_LOG_LEVEL: "info",
    });
    await collector.waitForLog((line) => line.msg === "collecting", 30_000);
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const jsm = await jetstreamManager(nc);
    const subject = subjects.stats(host, "docker", busy.name);
    const stream = streamName(subjects, "telemetry");
    const stored = async () =>
      (await jsm.streams.info(stream, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
    await eventually(async () => ((await stored()) >= 3 ? true : undefined), {
      timeoutMs: 15_000,
      what: "three samples of the busy container in the stream",
    });

    outageFromMs = Date.now();
    await nats.stop();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    await nats.start();
    outageToMs = Date.now();
    await collector.waitForLog((line) => line.msg.startsWith("publishing to the bus works again"), 20_000);
    // A few ticks after the outage, then a clean stop, which sends whatever is still queued.
    await new Promise((resolve) => setTimeout(resolve, 3 * INTERVAL_MS));
    expect(await collector.stop()).toBe(0);

    // nats-server 2.9 has one filter subject per consumer, not the ordered consumer's list.
    await jsm.consumers.add(stream, {
      durable_name: "outage-check",
      filter_subject: subject,
      ack_policy: AckPolicy.None,
    });
    const consumer = await jetstream(nc).consumers.get(stream, "outage-check");
    const total = await stored();
    while (samples.length < total) {
      const msg = await consumer.next({ expires: 2000 });
      if (msg === null) break;
      const decoded = codecs.stats.decode(msg.data);
      if (!decoded.ok) throw new Error(`undecodable sample: ${decoded.detail}`);
      samples.push({ seq: msg.seq, message: decoded.value });
    }
  }, 90_000);

  afterAll(async () => {
    await collector?.stop();
    await busy?.remove();
    await nc?.close().catch(() => undefined);
    await nats?.stop();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it("logged the outage once when it began and once when it ended, having dropped nothing", () => {
    const logs = collector?.logs ?? [];
    expect(logs.filter((line) => line.msg.startsWith("publishing to the bus failed"))).toHaveLength(1);
    const recovered = logs.filter((line) => line.msg.startsWith("publishing to the bus works again"));
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).toMatchObject({ dropped: 0 });
    expect(recovered[0]?.outage_ms).toBeGreaterThan(OUTAGE_MS / 2);
  });

  it("stored a sample for every tick, the outage's included, each once and in order", () => {
    const times = samples.map((s) => Date.parse(s.message.ts));
    const during = times.filter((t) => t > outageFromMs && t < outageToMs);
    expect(samples.length).toBeGreaterThan(OUTAGE_MS / INTERVAL_MS + 3);
    // About one per second of the outage (the collector kept sampling while the bus was down).
    expect(during.length).toBeGreaterThanOrEqual(OUTAGE_MS / INTERVAL_MS - 1);
    // No duplicates: every ts once.
    expect(new Set(times).size).toBe(times.length);
    // In order, and no tick missing: each gap about one interval, none above two (a tick may be
    // skipped while the one before it waits for the Docker API on a container of another test).
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
    expect(Math.min(...gaps), `gaps ${gaps.join(", ")}`).toBeGreaterThan(0);
    expect(Math.max(...gaps), `gaps ${gaps.join(", ")}`).toBeLessThanOrEqual(2 * INTERVAL_MS + 250);
  });
});
