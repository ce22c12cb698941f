// The watcher as it ships (its src/main.ts in a child process) with CROWSNEST_RUNTIME=containerd,
// against the tests' own containerd (test/infra/containerd/start.sh) and NATS: what a subscriber
// of the bus sees when containers made with `ctr` start, exit, run out of memory, pause and go,
// and what it is told about the transitions of a time the watcher was not running. The watcher
// follows a namespace of the test's own, so other tests' containers never show.
import { execFile } from "node:child_process";
import { appendFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { codecs, createSubjects, type EventMessage } from "@crowsnest/shared";
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
const run = promisify(execFile);

describe.skipIf(!socket)("the watcher with CROWSNEST_RUNTIME=containerd", () => {
  const suffix = uniqueSuffix();
  const namespace = `crowsnest-watcher-${suffix}`;
  const host = `ctrd-${suffix}`;
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  let recording: HostRecording;
  const created: string[] = [];
  let nc: NatsConnection;
  let watcher: ServiceProcess;
  /** Stands in for nerdctl's data root: the test writes a log file where nerdctl would. */
  let nerdctlRoot: string;

  const ctr = async (...args: string[]): Promise<string> =>
    (await run("ctr", ["--address", socket, "--namespace", namespace, ...args])).stdout;

  const startWatcher = (): ServiceProcess =>
    startService("watcher", {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HOST_NAME: host,
      CROWSNEST_RUNTIME: "containerd",
      CROWSNEST_CONTAINERD_SOCKET: socket,
      CROWSNEST_CONTAINERD_NAMESPACES: namespace,
      CROWSNEST_HEARTBEAT_INTERVAL_MS: "1000",
      CROWSNEST_NERDCTL_DATA_ROOT: nerdctlRoot,
    });

  /** A container of the test's own, started detached, with nerdctl's name label. */
  const runContainer = async (name: string, args: string[], options: string[] = []): Promise<string> => {
    const id = `${name}-${suffix}`;
    created.push(id);
    await ctr("run", "-d", "--label", `nerdctl/name=${name}`, ...options, image, id, ...args);
    return id;
  };

  const eventsOf = (id: string): EventMessage[] =>
    recording.events.filter((event) => event.actor.external_id === `${namespace}/${id}`);

  const waitForEvent = (id: string, action: string, timeoutMs = 60_000): Promise<EventMessage> =>
    eventually(() => eventsOf(id).find((event) => event.action === action), {
      timeoutMs,
      what: `a ${action} event of ${id}`,
    });

  beforeAll(async () => {
    nerdctlRoot = await mkdtemp(join(tmpdir(), "crowsnest-nerdctl-"));
    // Images belong to a namespace: the workload image, exported from `default`, imported here.
    const dir = await mkdtemp(join(tmpdir(), "crowsnest-ctrd-"));
    try {
      const archive = join(dir, "image.tar");
      await run("ctr", ["--address", socket, "--namespace", "default", "images", "export", archive, image]);
      await ctr("images", "import", archive);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    nc = await connectTestNats();
    recording = recordHost(nc, subjects, host, "containerd");
    await nc.flush();
    watcher = startWatcher();
    // The watcher's own account of its start, should its first look never come.
    await watcher.waitForLog((record) => record.msg === "following containerd events", 60_000);
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
    for (const id of created) {
      await ctr("tasks", "kill", "--signal", "SIGKILL", id).catch(() => undefined);
      await ctr("tasks", "delete", "--force", id).catch(() => undefined);
      await ctr("containers", "delete", id).catch(() => undefined);
    }
    await ctr("images", "remove", image).catch(() => undefined);
    await run("ctr", ["--address", socket, "namespaces", "remove", namespace]).catch(() => undefined);
    await rm(nerdctlRoot, { recursive: true, force: true });
    recording?.stop();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
  }, 120_000);

  it("publishes create, start and a die with the exit code and containerd's exit time, under nerdctl's name", async () => {
    const id = await runContainer("exits-three", ["sh", "-c", "sleep 1; exit 3"]);
    const die = await waitForEvent(id, "die");
    expect(eventsOf(id).map((event) => event.action)).toEqual(["create", "start", "die"]);
    expect(die).toMatchObject({
      host,
      runtime: "containerd",
      kind: "container",
      actor: { external_id: `${namespace}/${id}`, name: "exits-three" },
      image,
      exit_code: 3,
      oom_killed: false,
      synthesized: false,
    });
    expect(die.attributes).toMatchObject({
      name: "exits-three",
      image,
      exitCode: "3",
      "nerdctl/name": "exits-three",
    });
    const start = eventsOf(id).find((event) => event.action === "start");
    expect(BigInt(die.ts_nano ?? "0")).toBeGreaterThan(BigInt(start?.ts_nano ?? "0"));
    expect(recording.undecodable).toEqual([]);
  });

  it("reports an OOM kill under a 32 MiB limit as one oom and a die 137 marked oom_killed", async () => {
    const id = await runContainer(
      "eats-memory",
      ["sh", "-c", "x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done"],
      ["--memory-limit", String(32 * 1024 * 1024)],
    );
    const die = await waitForEvent(id, "die", 90_000);
    expect(die).toMatchObject({ exit_code: 137, oom_killed: true });
    expect(eventsOf(id).filter((event) => event.action === "oom")).toHaveLength(1);
  });

  it("publishes pause and unpause, then die and destroy when the container is removed", async () => {
    const id = await runContainer("pauses", ["sleep", "600"]);
    await waitForEvent(id, "start");
    await ctr("tasks", "pause", id);
    await waitForEvent(id, "pause");
    await ctr("tasks", "resume", id);
    await waitForEvent(id, "unpause");
    await ctr("tasks", "kill", "--signal", "SIGKILL", id);
    // A kill is asynchronous: the task can be deleted once it has stopped.
    await waitForEvent(id, "die");
    await ctr("tasks", "delete", id);
    await ctr("containers", "delete", id);
    await waitForEvent(id, "destroy");
    expect(eventsOf(id).map((event) => event.action)).toEqual([
      "create",
      "start",
      "pause",
      "unpause",
      "die",
      "destroy",
    ]);
    expect(eventsOf(id).find((event) => event.action === "die")?.exit_code).toBe(137);
  });

  it("answers inspect with the spec's limits, and logs with logs_unavailable", async () => {
    const id = await runContainer(
      "inspected",
      ["sleep", "600"],
      ["--memory-limit", String(48 * 1024 * 1024)],
    );
    await waitForEvent(id, "start");
    const inspectRequest = codecs.inspectRequest.encode({ v: 1, container: "inspected" });
    if (!inspectRequest.ok) throw new Error(inspectRequest.detail);
    const inspected = codecs.inspectReply.decode(
      (await nc.request(subjects.rpc(host, "inspect"), inspectRequest.data, { timeout: 10_000 })).data,
    );
    expect(inspected.ok && inspected.value).toMatchObject({
      ok: true,
      container: {
        external_id: `${namespace}/${id}`,
        name: "inspected",
        state: "running",
        limits: { mem_limit: 48 * 1024 * 1024 },
      },
    });
    const logsRequest = codecs.logsRequest.encode({ v: 1, container: "inspected" });
    if (!logsRequest.ok) throw new Error(logsRequest.detail);
    const logs = codecs.logsReply.decode(
      (await nc.request(subjects.rpc(host, "logs"), logsRequest.data, { timeout: 10_000 })).data,
    );
    expect(logs.ok && logs.value).toMatchObject({ ok: false, error: { code: "logs_unavailable" } });
  });

  it("serves a nerdctl container's json-file log: tail, one stream, timestamps, since, then follow", async () => {
    const id = `logged-${suffix}`;
    // Where nerdctl keeps the container's state (its data store is named by a hash of the
    // socket's address), with the log nerdctl's json-file driver writes.
    const stateDir = join(nerdctlRoot, "1935db59", "containers", namespace, id);
    await mkdir(stateDir, { recursive: true });
    const logFile = join(stateDir, `${id}-json.log`);
    const record = (stream: string, log: string, time: string) =>
      `${JSON.stringify({ log, stream, time })}\n`;
    await writeFile(
      logFile,
      record("stdout", "first\n", "2026-12-05T10:00:00.000000001Z") +
        record("stderr", "warned\n", "2026-12-05T10:00:01.000000001Z") +
        record("stdout", "a long line cut ", "2026-12-05T10:00:02.000000001Z") +
        record("stdout", "in two\n", "2026-12-05T10:00:02.100000001Z") +
        record("stdout", "last\n", "2026-12-05T10:00:03.000000001Z"),
    );
    await runContainer("logged", ["sleep", "600"], ["--label", `nerdctl/state-dir=${stateDir}`]);
    const ask = async (request: Record<string, unknown>) => {
      const encoded = codecs.logsRequest.encode({ v: 1, container: "logged", ...request });
      if (!encoded.ok) throw new Error(encoded.detail);
      const reply = codecs.logsReply.decode(
        (await nc.request(subjects.rpc(host, "logs"), encoded.data, { timeout: 10_000 })).data,
      );
      if (!reply.ok) throw new Error(reply.detail);
      return reply.value;
    };
    expect(await ask({ tail: 2 })).toMatchObject({
      ok: true,
      done: true,
      lines: [
        { stream: "stdout", ts: null, text: "a long line cut in two" },
        { stream: "stdout", ts: null, text: "last" },
      ],
    });
    expect(await ask({ stream: "stderr", timestamps: true })).toMatchObject({
      lines: [{ stream: "stderr", ts: "2026-12-05T10:00:01.000Z", text: "warned" }],
    });
    const since = await ask({ since: "2026-12-05T10:00:02.500Z" });
    expect(since.ok && since.lines.map((line) => line.text)).toEqual(["last"]);

    // Follow: the newest line, then what is written while following.
    const encoded = codecs.logsRequest.encode({ v: 1, container: "logged", tail: 1, follow: true });
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
      await eventually(() => (texts.includes("last") ? true : undefined), {
        timeoutMs: 20_000,
        what: "the tail",
      });
      await appendFile(logFile, record("stdout", "written later\n", "2026-12-05T10:00:04.000000001Z"));
      await eventually(() => (texts.includes("written later") ? true : undefined), {
        timeoutMs: 20_000,
        what: "the appended line",
      });
      expect(texts).toEqual(["last", "written later"]);
    } finally {
      replies.unsubscribe();
    }
  });

  it("refuses to read a log file outside nerdctl's data root", async () => {
    await runContainer("escaping", ["sleep", "600"], ["--label", "nerdctl/state-dir=/etc/escaping"]);
    const encoded = codecs.logsRequest.encode({ v: 1, container: "escaping" });
    if (!encoded.ok) throw new Error(encoded.detail);
    const reply = codecs.logsReply.decode(
      (await nc.request(subjects.rpc(host, "logs"), encoded.data, { timeout: 10_000 })).data,
    );
    expect(reply.ok && reply.value).toMatchObject({ ok: false, error: { code: "logs_unavailable" } });
    expect(reply.ok && !reply.value.ok && reply.value.error.message).toContain("CROWSNEST_NERDCTL_DATA_ROOT");
  });

  it("says containerd and connected in its heartbeat", async () => {
    const heartbeat = await eventually(
      () => recording.heartbeats.find((beat) => beat.runtime === "containerd" && beat.connected === true),
      { timeoutMs: 30_000, what: "a connected containerd heartbeat" },
    );
    expect(heartbeat.host).toBe(host);
  });

  it("after a restart, publishes once what happened while it was not running, marked synthesized", async () => {
    const killed = await runContainer("killed-meanwhile", ["sleep", "600"]);
    await waitForEvent(killed, "start");
    // Recorded on the bus once the events are stored: the next watcher compares with it.
    await watcher.waitForLog((record) => record.msg === "starting watcher");
    expect(await watcher.stop()).toBe(0);

    await ctr("tasks", "kill", "--signal", "SIGKILL", killed);
    await eventually(
      async () =>
        (await ctr("tasks", "list")).match(new RegExp(`${killed}\\s+\\d+\\s+STOPPED`)) ? true : undefined,
      { timeoutMs: 30_000, what: "the killed task stopped" },
    );
    const newcomer = await runContainer("created-meanwhile", ["sleep", "600"]);

    watcher = startWatcher();
    const die = await waitForEvent(killed, "die");
    expect(die).toMatchObject({ synthesized: true, exit_code: 137 });
    const newcomerEvents = await eventually(
      () => {
        const seen = eventsOf(newcomer).map((event) => `${event.action}:${event.synthesized}`);
        return seen.length >= 2 ? seen : undefined;
      },
      { timeoutMs: 60_000, what: "the newcomer's create and start" },
    );
    expect(newcomerEvents).toEqual(["create:true", "start:true"]);
    // Once each: the next inventory comes after the comparison, and nothing was repeated.
    const restartInventory = await eventually(
      () => recording.inventories.filter((inventory) => inventory.reason === "startup").at(1),
      { timeoutMs: 60_000, what: "the second startup inventory" },
    );
    expect(restartInventory.containers.map((container) => container.name)).toContain("created-meanwhile");
    expect(eventsOf(killed).filter((event) => event.action === "die")).toHaveLength(1);
  });
});
