// The collector as it ships (its src/main.ts in a child process) with CROWSNEST_RUNTIME=cri,
// against the tests' own containerd through its CRI plugin, and NATS: a pod made through the CRI
// with a busy loop held to half a core and a 64 MiB limit is published under
// `namespace/pod/container` with runtime `cri`, its limits, its working set, and a CPU figure
// that agrees with the kernel's own account of the loop (schedstat); a second run of the
// container (attempt 1) starts its CPU over. The pod's network counters come from
// ListPodSandboxStats. The figures come from the container's cgroup files (the default, `auto`);
// a second collector with CROWSNEST_STATS_SOURCE=api reads the same container through
// ListContainerStats, and must agree with the kernel as well. The containerd is shared: only
// this test's pod is looked at.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ANY, codecs, createSubjects, type HeartbeatMessage, type StatsMessage } from "@crowsnest/shared";
import { CriClient } from "@crowsnest/shared/cri";
import { CriTestDriver, type TestPod } from "@crowsnest/shared/cri/testing";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { deleteTestStreams, recordMessages } from "../../../../../test/support/bus-fixtures.ts";
import { type ServiceProcess, startService } from "../../../../../test/support/service-process.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
  uniqueSuffix,
} from "../../../../../test/support/test-env.ts";
import { againstTruth, type SchedPoint, schedPoint } from "../../fixtures/cpu-truth.ts";

const socket = inject("containerdSocket");
const image = `docker.io/${inject("workloadImage")}`;
const MIB = 1024 * 1024;

describe.skipIf(!socket)("the collector with CROWSNEST_RUNTIME=cri", () => {
  const suffix = uniqueSuffix();
  const host = `cri-${suffix}`;
  const apiHost = `cri-api-${suffix}`;
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  const driver = new CriTestDriver(socket);
  const client = new CriClient(socket);
  const sandboxes: string[] = [];
  const received: { message: StatsMessage; sched: SchedPoint | undefined }[] = [];
  const undecodable: string[] = [];
  const heartbeats: HeartbeatMessage[] = [];
  let busyPid = 0;
  let nc: NatsConnection;
  let collector: ServiceProcess;
  let apiCollector: ServiceProcess;
  let logRoot: string;
  let pod: TestPod;
  let sandboxId: string;

  const busId = () => `${pod.namespace}/${pod.name}/busy`;

  const startBusy = async (attempt: number): Promise<string> => {
    const id = await driver.createContainer(sandboxId, pod, {
      name: "busy",
      attempt,
      image,
      command: ["sh", "-c", "while :; do :; done"],
      memoryLimitBytes: 64 * MIB,
      cpuLimitCores: 0.5,
    });
    await driver.startContainer(id);
    const status = await client.containerStatus(id, true, AbortSignal.timeout(20_000));
    busyPid = (JSON.parse(status?.info.info ?? "{}") as { pid?: number }).pid ?? 0;
    return id;
  };

  beforeAll(async () => {
    logRoot = await mkdtemp(join(tmpdir(), "crowsnest-cri-collector-"));
    const uid = randomUUID();
    pod = {
      namespace: `crowsnest-${suffix}`,
      name: `busy-${suffix}`,
      uid,
      logDirectory: join(logRoot, uid),
    };
    sandboxId = await driver.runPodSandbox(pod);
    sandboxes.push(sandboxId);
    nc = await connectTestNats();
    const messages: StatsMessage[] = [];
    // Each sample beside the loop's schedstat when it arrived.
    const subscription = recordMessages(
      nc,
      subjects.stats(host, "cri", ANY),
      codecs.stats,
      messages,
      undecodable,
    );
    void subscription;
    recordMessages(nc, subjects.stats(apiHost, "cri", ANY), codecs.stats, messages, undecodable);
    recordMessages(nc, subjects.agent(host, "collector"), codecs.heartbeat, heartbeats, undecodable);
    const sampleTimes = setInterval(() => {
      while (messages.length > 0) {
        const message = messages.shift() as StatsMessage;
        received.push({ message, sched: busyPid > 0 ? schedPoint(busyPid) : undefined });
      }
    }, 20);
    sampleTimes.unref();
    await nc.flush();
    collector = startService("collector", {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HOST_NAME: host,
      CROWSNEST_RUNTIME: "cri",
      CROWSNEST_CRI_SOCKET: socket,
      CROWSNEST_COLLECT_INTERVAL_MS: "1000",
    });
    apiCollector = startService("collector", {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HOST_NAME: apiHost,
      CROWSNEST_RUNTIME: "cri",
      CROWSNEST_CRI_SOCKET: socket,
      CROWSNEST_COLLECT_INTERVAL_MS: "1000",
      CROWSNEST_STATS_SOURCE: "api",
    });
  }, 120_000);

  afterAll(async () => {
    await collector?.stop();
    await apiCollector?.stop();
    for (const id of sandboxes) {
      await driver.stopPodSandbox(id).catch(() => undefined);
      await driver.removePodSandbox(id).catch(() => undefined);
    }
    driver.close();
    client.close();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    await rm(logRoot, { recursive: true, force: true });
  }, 120_000);

  it("publishes a busy pod container under namespace/pod/container with its limits, working set and true CPU, from its cgroup files and through ListContainerStats", async () => {
    await startBusy(0);
    for (const [from, process] of [
      [host, collector],
      [apiHost, apiCollector],
    ] as const) {
      const samples = await eventually(
        () => {
          const ofBusy = received.filter(
            (sample) => sample.message.host === from && sample.message.container.external_id === busId(),
          );
          return ofBusy.length >= 6 ? ofBusy : undefined;
        },
        { timeoutMs: 90_000, what: `six samples of the busy container from ${from}` },
      ).catch((error: unknown) => {
        throw new Error(
          `${String(error)}; the collector logged:\n${process.logs.map((r) => JSON.stringify(r)).join("\n")}`,
        );
      });
      const last = samples.at(-1)?.message;
      expect(last).toMatchObject({
        host: from,
        runtime: "cri",
        container: { external_id: busId(), name: busId() },
        cpu_limit_cores: 0.5,
        mem_limit: 64 * MIB,
      });
      expect(last?.mem_used).toBeGreaterThan(0);
      expect(last?.mem_used).toBeLessThan(64 * MIB);
      // pids.current is in the cgroup files only; the CRI's stats have no process count.
      expect(last?.pids).toBe(from === host ? 1 : null);
      // Held to half a core: what the kernel says it got, within 15 points.
      const { reported, truth, detail } = againstTruth(
        samples.slice(-5).map((sample) => ({ cpuPercent: sample.message.cpu_percent, sched: sample.sched })),
      );
      expect(Math.abs(reported - truth), `${from}: ${detail}`).toBeLessThanOrEqual(15);
      expect(reported, `${from}: ${detail}`).toBeLessThanOrEqual(65);
    }
    expect(collector.logs).toContainEqual(
      expect.objectContaining({ stats_source: "cgroup", msg: expect.stringContaining("cgroup files") }),
    );
    // The pod's own network (CNI bridge), from ListPodSandboxStats (slow on containerd 1.6, read
    // beside the ticks), on its one container, whichever way its other figures are read.
    const withNetwork = await eventually(
      () =>
        received.find(
          (sample) =>
            sample.message.host === host &&
            sample.message.container.external_id === busId() &&
            sample.message.net_rx_bytes !== null,
        ),
      { timeoutMs: 90_000, what: "a sample with the pod's network counters" },
    );
    expect(typeof withNetwork.message.net_tx_bytes).toBe("number");
    expect(undecodable).toEqual([]);
  }, 200_000);

  it("says in its heartbeat which CRI API version it speaks (v1: the test containerd 1.6 serves it)", async () => {
    const heartbeat = await eventually(
      () => heartbeats.find((beat) => beat.connected && beat.runtime_api_version !== undefined),
      { timeoutMs: 60_000, what: "a connected heartbeat with the CRI API version" },
    );
    expect(heartbeat).toMatchObject({ runtime: "cri", service: "collector", runtime_api_version: "v1" });
  });

  it("starts CPU over for the container's next run (attempt 1)", async () => {
    const first = (await client.containers(AbortSignal.timeout(20_000))).find(
      (container) =>
        container.podSandboxId === sandboxId && container.name === "busy" && container.attempt === 0,
    );
    if (first === undefined) throw new Error("the first run is gone");
    await driver.stopContainer(first.id);
    const stoppedAt = Date.now();
    await startBusy(1);
    const afterRestart = await eventually(
      () => {
        const later = received.filter(
          (sample) =>
            sample.message.host === host &&
            sample.message.container.external_id === busId() &&
            Date.parse(sample.message.ts) > stoppedAt,
        );
        return later.length >= 3 ? later : undefined;
      },
      { timeoutMs: 90_000, what: "samples of the second run" },
    );
    // A new run has no previous reading: its first sample carries no CPU figure, later ones do.
    expect(afterRestart[0]?.message.cpu_percent).toBeNull();
    expect(afterRestart.at(-1)?.message.cpu_percent).toBeGreaterThan(0);
  }, 120_000);
});
