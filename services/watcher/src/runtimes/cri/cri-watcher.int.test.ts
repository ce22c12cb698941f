// The watcher as it ships (its src/main.ts in a child process) with CROWSNEST_RUNTIME=cri,
// against the tests' own containerd through its CRI plugin, and NATS: pods made through the CRI
// the way the kubelet makes them (RunPodSandbox, CreateContainer with attempt n, StartContainer,
// stop, remove), and what a subscriber of the bus sees: start, a die with its exit code, an OOM
// kill as one oom and a die 137, a restart with attempt + 1, removal, the sandbox's readiness,
// inventories and inspect with the pod context, CRI log files (tail, one stream, previous,
// follow across a rotation), and after a restart of the watcher, what it missed, once. The
// containerd is shared: every assertion looks at this test's own pods only.
import { randomUUID } from "node:crypto";
import { appendFile, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  codecs,
  createSubjects,
  type EventMessage,
  type LogsReply,
  watcherStateBucketName,
} from "@crowsnest/shared";
import { CriTestDriver, type TestPod } from "@crowsnest/shared/cri/testing";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  deleteTestStreams,
  type HostRecording,
  recordHost,
} from "../../../../../test/support/bus-fixtures.ts";
import { type ServiceProcess, startService } from "../../../../../test/support/service-process.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
  uniqueSuffix,
} from "../../../../../test/support/test-env.ts";

const socket = inject("containerdSocket");
const image = `docker.io/${inject("workloadImage")}`;

describe.skipIf(!socket)("the watcher with CROWSNEST_RUNTIME=cri", () => {
  const suffix = uniqueSuffix();
  const host = `cri-${suffix}`;
  const namespace = `crowsnest-${suffix}`;
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  const driver = new CriTestDriver(socket);
  const sandboxes: string[] = [];
  let recording: HostRecording;
  let nc: NatsConnection;
  let watcher: ServiceProcess;
  let logRoot: string;

  const startWatcher = (): ServiceProcess =>
    startService("watcher", {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HOST_NAME: host,
      CROWSNEST_RUNTIME: "cri",
      CROWSNEST_CRI_SOCKET: socket,
      CROWSNEST_CRI_POLL_INTERVAL_MS: "250",
      CROWSNEST_CRI_LOG_ROOT: logRoot,
      CROWSNEST_HEARTBEAT_INTERVAL_MS: "1000",
    });

  const newPod = async (name: string): Promise<{ pod: TestPod; sandboxId: string }> => {
    const uid = randomUUID();
    const pod: TestPod = {
      namespace,
      name: `${name}-${suffix}`,
      uid,
      logDirectory: join(logRoot, `${namespace}_${name}-${suffix}_${uid}`),
      labels: { app: name },
    };
    const sandboxId = await driver.runPodSandbox(pod);
    sandboxes.push(sandboxId);
    return { pod, sandboxId };
  };

  const runContainer = async (
    sandboxId: string,
    pod: TestPod,
    name: string,
    command: string[],
    options: { attempt?: number; memoryLimitBytes?: number } = {},
  ): Promise<string> => {
    const id = await driver.createContainer(sandboxId, pod, {
      name,
      attempt: options.attempt ?? 0,
      image,
      command,
      ...(options.memoryLimitBytes === undefined ? {} : { memoryLimitBytes: options.memoryLimitBytes }),
    });
    await driver.startContainer(id);
    return id;
  };

  const busId = (pod: TestPod, container: string): string => `${pod.namespace}/${pod.name}/${container}`;
  const eventsOf = (id: string): EventMessage[] =>
    recording.events.filter((event) => event.actor.external_id === id);
  const actions = (id: string): string[] => eventsOf(id).map((event) => event.action);
  const waitForEvents = (
    id: string,
    count: (events: EventMessage[]) => boolean,
    what: string,
    timeoutMs = 60_000,
  ) => eventually(() => (count(eventsOf(id)) ? eventsOf(id) : undefined), { timeoutMs, what });
  const waitForEvent = (id: string, action: string, timeoutMs = 60_000): Promise<EventMessage> =>
    eventually(() => eventsOf(id).find((event) => event.action === action), {
      timeoutMs,
      what: `a ${action} event of ${id}`,
    });

  const askLogs = async (request: Record<string, unknown>): Promise<LogsReply> => {
    const encoded = codecs.logsRequest.encode({ v: 1, container: "", ...request });
    if (!encoded.ok) throw new Error(encoded.detail);
    const reply = await nc.request(subjects.rpc(host, "logs"), encoded.data, { timeout: 10_000 });
    const decoded = codecs.logsReply.decode(reply.data);
    if (!decoded.ok) throw new Error(decoded.detail);
    return decoded.value;
  };
  const textsOf = (reply: LogsReply): string[] | false => reply.ok && reply.lines.map((line) => line.text);

  const inspect = async (container: string) => {
    const encoded = codecs.inspectRequest.encode({ v: 1, container });
    if (!encoded.ok) throw new Error(encoded.detail);
    const reply = await nc.request(subjects.rpc(host, "inspect"), encoded.data, { timeout: 10_000 });
    const decoded = codecs.inspectReply.decode(reply.data);
    if (!decoded.ok) throw new Error(decoded.detail);
    return decoded.value;
  };

  beforeAll(async () => {
    logRoot = await mkdtemp(join(tmpdir(), "crowsnest-cri-logs-"));
    nc = await connectTestNats();
    recording = recordHost(nc, subjects, host, "cri");
    await nc.flush();
    watcher = startWatcher();
    await eventually(() => recording.inventories.find((inventory) => inventory.reason === "startup"), {
      timeoutMs: 60_000,
      what: "the startup inventory",
    }).catch((error: unknown) => {
      throw new Error(
        `${String(error)}; the watcher logged:\n${watcher.logs.map((record) => JSON.stringify(record)).join("\n")}`,
      );
    });
  }, 120_000);

  afterAll(async () => {
    await watcher?.stop();
    for (const id of sandboxes) {
      await driver.stopPodSandbox(id).catch(() => undefined);
      await driver.removePodSandbox(id).catch(() => undefined);
    }
    driver.close();
    recording?.stop();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    await rm(logRoot, { recursive: true, force: true });
  }, 120_000);

  it("publishes create, start and a die with the exit code, named namespace/pod/container with the kubelet's labels", async () => {
    const { pod, sandboxId } = await newPod("exits");
    await runContainer(sandboxId, pod, "main", ["sh", "-c", "sleep 1; exit 3"]);
    const id = busId(pod, "main");
    const die = await waitForEvent(id, "die");
    expect(actions(id)).toEqual(["create", "start", "die"]);
    expect(die).toMatchObject({
      host,
      runtime: "cri",
      kind: "container",
      actor: { external_id: id, name: id },
      image,
      exit_code: 3,
      oom_killed: false,
      synthesized: false,
    });
    expect(die.attributes).toMatchObject({
      "io.kubernetes.pod.namespace": namespace,
      "io.kubernetes.pod.name": pod.name,
      "io.kubernetes.pod.uid": pod.uid,
      "io.kubernetes.container.name": "main",
      app: "exits",
      exitCode: "3",
      restart_count: "0",
    });
    const start = eventsOf(id).find((event) => event.action === "start");
    expect(BigInt(die.ts_nano ?? "0")).toBeGreaterThan(BigInt(start?.ts_nano ?? "0"));
    const ready = await eventually(
      () =>
        recording.events.find(
          (event) => event.kind === "pod" && event.actor.external_id === `${namespace}/${pod.name}`,
        ),
      { timeoutMs: 30_000, what: "the sandbox's ready event" },
    );
    expect(ready.action).toBe("ready");
    expect(recording.undecodable).toEqual([]);
  });

  it("reports an OOM kill under a 32 MiB limit as one oom and a die 137 marked oom_killed", async () => {
    const { pod, sandboxId } = await newPod("oom");
    await runContainer(
      sandboxId,
      pod,
      "eater",
      ["sh", "-c", "x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done"],
      {
        memoryLimitBytes: 32 * 1024 * 1024,
      },
    );
    const id = busId(pod, "eater");
    const die = await waitForEvent(id, "die", 90_000);
    expect(die).toMatchObject({ exit_code: 137, oom_killed: true });
    expect(die.attributes.reason).toBe("OOMKilled");
    expect(actions(id)).toEqual(["create", "start", "oom", "die"]);
  });

  it("publishes a restart with attempt + 1, serves previous logs, then destroy, not_ready and delete on removal", async () => {
    const { pod, sandboxId } = await newPod("restarts");
    const first = await runContainer(sandboxId, pod, "app", ["sh", "-c", "echo run zero; exit 1"]);
    const id = busId(pod, "app");
    await waitForEvent(id, "die");
    const second = await runContainer(sandboxId, pod, "app", ["sh", "-c", "echo run one; exec sleep 600"], {
      attempt: 1,
    });
    const restart = await waitForEvent(id, "restart");
    expect(restart.attributes.restart_count).toBe("1");
    expect(actions(id)).toEqual(["create", "start", "die", "create", "start", "restart"]);

    const inventory = await eventually(
      async () => {
        const inspected = await inspect(`${pod.name}/app`);
        return inspected.ok && inspected.container.restart_count === 1 ? inspected.container : undefined;
      },
      { timeoutMs: 30_000, what: "inspect of the restarted container" },
    );
    expect(inventory).toMatchObject({
      external_id: id,
      state: "running",
      kubernetes: { namespace, pod: pod.name, pod_uid: pod.uid, container: "app", node: host },
    });
    const current = await eventually(
      async () => {
        const texts = textsOf(await askLogs({ container: id }));
        return texts !== false && texts.length > 0 ? texts : undefined;
      },
      { timeoutMs: 30_000, what: "the current run's log" },
    );
    expect(current).toEqual(["run one"]);
    expect(textsOf(await askLogs({ container: id, previous: true }))).toEqual(["run zero"]);

    await driver.stopContainer(second);
    await driver.removeContainer(second);
    await driver.removeContainer(first);
    await waitForEvent(id, "destroy");
    // Removing the older run alone is no destroy: the pod container is still there.
    expect(actions(id).filter((action) => action === "destroy")).toHaveLength(1);
    await driver.stopPodSandbox(sandboxId);
    await driver.removePodSandbox(sandboxId);
    const podEvents = await eventually(
      () => {
        const seen = recording.events
          .filter((event) => event.kind === "pod" && event.actor.external_id === `${namespace}/${pod.name}`)
          .map((event) => event.action);
        return seen.includes("delete") ? seen : undefined;
      },
      { timeoutMs: 60_000, what: "the pod's delete" },
    );
    expect(podEvents).toEqual(["ready", "not_ready", "delete"]);
  });

  it("lists the pod containers in its inventory with the kubernetes object and the limits", async () => {
    const { pod, sandboxId } = await newPod("listed");
    await runContainer(sandboxId, pod, "web", ["sleep", "600"], { memoryLimitBytes: 48 * 1024 * 1024 });
    await waitForEvent(busId(pod, "web"), "start");
    // The periodic inventory is minutes away; inspect answers from the same cache (the startup
    // inventory after a restart is checked below).
    const inspected = await inspect(busId(pod, "web"));
    const entry = inspected.ok ? inspected.container : inspected;
    expect(entry).toMatchObject({
      state: "running",
      labels: {
        "io.kubernetes.pod.namespace": namespace,
        "io.kubernetes.container.name": "web",
        app: "listed",
      },
      limits: { mem_limit: 48 * 1024 * 1024 },
      restart_count: 0,
      kubernetes: { namespace, pod: pod.name, container: "web" },
    });
  });

  it("serves the CRI log file: tail, one stream, timestamps, and follow across a rotation", async () => {
    const { pod, sandboxId } = await newPod("logs");
    await runContainer(sandboxId, pod, "talker", [
      "sh",
      "-c",
      "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three; exec sleep 600",
    ]);
    const id = busId(pod, "talker");
    await waitForEvent(id, "start");
    const all = await eventually(
      async () => {
        const reply = await askLogs({ container: id, timestamps: true });
        return reply.ok && reply.lines.length === 3 ? reply.lines : undefined;
      },
      { timeoutMs: 30_000, what: "three log lines" },
    );
    expect(all.map((line) => `${line.stream}:${line.text}`)).toEqual([
      "stdout:one",
      "stderr:two",
      "stdout:three",
    ]);
    expect(all.every((line) => typeof line.ts === "string")).toBe(true);
    expect(textsOf(await askLogs({ container: id, tail: 1 }))).toEqual(["three"]);
    expect(textsOf(await askLogs({ container: id, stream: "stderr" }))).toEqual(["two"]);

    // Follow: the newest line, then a partial entry joined, then a line in the file that
    // replaced the rotated one (written here as the kubelet's rotation leaves it).
    const logFile = join(pod.logDirectory, "talker", "0.log");
    const encoded = codecs.logsRequest.encode({ v: 1, container: id, tail: 1, follow: true });
    if (!encoded.ok) throw new Error(encoded.detail);
    const inbox = `_INBOX.${suffix}-follow`;
    const texts: string[] = [];
    const replies = nc.subscribe(inbox, {
      callback: (_error, message) => {
        const decoded = codecs.logsReply.decode(message.data);
        if (decoded.ok && decoded.value.ok) texts.push(...decoded.value.lines.map((line) => line.text));
      },
    });
    try {
      nc.publish(subjects.rpc(host, "logs"), encoded.data, { reply: inbox });
      await eventually(() => (texts.includes("three") ? true : undefined), {
        timeoutMs: 20_000,
        what: "the tail",
      });
      await appendFile(logFile, "2026-12-05T20:00:00.000000001Z stdout P joined \n");
      await appendFile(logFile, "2026-12-05T20:00:00.100000001Z stdout F later\n");
      await eventually(() => (texts.includes("joined later") ? true : undefined), {
        timeoutMs: 20_000,
        what: "the joined line",
      });
      await rename(logFile, `${logFile}.20261205-200000`);
      await writeFile(logFile, "2026-12-05T20:00:01.000000001Z stdout F after rotation\n");
      await eventually(() => (texts.includes("after rotation") ? true : undefined), {
        timeoutMs: 20_000,
        what: "the line after the rotation",
      });
      expect(texts).toEqual(["three", "joined later", "after rotation"]);
    } finally {
      replies.unsubscribe();
    }
  });

  it("says cri and connected in its heartbeat", async () => {
    const heartbeat = await eventually(
      () => recording.heartbeats.find((beat) => beat.runtime === "cri" && beat.connected === true),
      { timeoutMs: 30_000, what: "a connected cri heartbeat" },
    );
    expect(heartbeat.host).toBe(host);
  });

  it("says in its heartbeat which CRI API version it speaks (v1: the test containerd 1.6 serves it)", async () => {
    const heartbeat = await eventually(
      () =>
        recording.heartbeats.find(
          (beat) => beat.connected === true && beat.runtime_api_version !== undefined,
        ),
      { timeoutMs: 30_000, what: "a connected heartbeat with the CRI API version" },
    );
    expect(heartbeat).toMatchObject({ runtime: "cri", runtime_api_version: "v1" });
  });

  it("after a restart, publishes once what happened while it was not running, marked synthesized", async () => {
    const { pod, sandboxId } = await newPod("meanwhile");
    const stopped = await runContainer(sandboxId, pod, "stopped", ["sleep", "600"]);
    await waitForEvent(busId(pod, "stopped"), "start");
    // What it published is recorded once stored; the next watcher compares with that record.
    const kv = await new Kvm(nc).open(watcherStateBucketName(subjects));
    await eventually(
      async () => {
        const entry = await kv.get(`${host}.cri.objects.c_${stopped}`);
        return entry?.operation === "PUT" &&
          entry.json<{ state: { state: string } }>().state.state === "running"
          ? true
          : undefined;
      },
      { timeoutMs: 30_000, what: "the running container recorded" },
    );
    expect(await watcher.stop()).toBe(0);

    await driver.stopContainer(stopped);
    await runContainer(sandboxId, pod, "newcomer", ["sleep", "600"]);

    watcher = startWatcher();
    const die = await waitForEvent(busId(pod, "stopped"), "die");
    expect(die).toMatchObject({ synthesized: true, exit_code: 137 });
    const newcomer = await waitForEvents(
      busId(pod, "newcomer"),
      (events) => events.some((event) => event.action === "start"),
      "the newcomer's start",
    );
    expect(newcomer.map((event) => `${event.action}:${event.synthesized}`)).toEqual([
      "create:true",
      "start:true",
    ]);
    const restartInventory = await eventually(
      () => recording.inventories.filter((inventory) => inventory.reason === "startup").at(1),
      { timeoutMs: 60_000, what: "the second startup inventory" },
    );
    expect(
      restartInventory.containers.find((container) => container.external_id === busId(pod, "newcomer")),
    ).toMatchObject({
      state: "running",
      restart_count: 0,
      kubernetes: { namespace, pod: pod.name, pod_uid: pod.uid, container: "newcomer", node: host },
    });
    // Once each: nothing the first watcher published is published again.
    expect(actions(busId(pod, "stopped"))).toEqual(["create", "start", "die"]);
  });
});
