// Lifecycle events as a subscriber of the bus sees them, from real containers on the real
// dockerd: an OOM kill (also one whose oom dockerd delivers after the die), a health check that
// flips, pause and unpause, rename and kill.
import { PassThrough } from "node:stream";
import { ANY, type Bus, codecs, createLogger, type EventMessage, openBus } from "@crowsnest/shared";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams } from "../../../../../test/support/bus-fixtures.ts";
import { startWorkload, testDocker, type Workload } from "../../../../../test/support/docker-workloads.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
  uniqueSuffix,
} from "../../../../../test/support/test-env.ts";
import { parseWatcherConfig } from "../../config.ts";
import type { RuntimeWatcher } from "../watcher-runtime.ts";
import type { DockerApi, DockerEventStream } from "./docker-api.ts";
import { createDockerWatcher } from "./docker-watcher.ts";
import { createDockerodeApi } from "./dockerode-adapter.ts";

const MiB = 1024 * 1024;
const SECOND_NS = 1_000_000_000;

/**
 * A watcher of the shared dockerd (through `wrap`, to change what it sees) under a host name and
 * subject prefix of its own, and the events it publishes as a subscriber of the bus sees them.
 */
function watchedHost(name: string, wrap: (real: DockerApi) => DockerApi = (real) => real) {
  const host = `itest-${name}-${uniqueSuffix()}`;
  const prefix = testSubjectPrefix();
  const config = parseWatcherConfig({
    CROWSNEST_NATS_URL: natsUrl(),
    CROWSNEST_SUBJECT_PREFIX: prefix,
    CROWSNEST_HOST_NAME: host,
  });
  if (config.runtime !== "docker") throw new Error("the default runtime is docker");
  const events: EventMessage[] = [];
  const undecodable: string[] = [];
  let bus: Bus | undefined;
  let nc: NatsConnection | undefined;
  let subscription: Subscription | undefined;
  let watcher: RuntimeWatcher | undefined;
  return {
    events,
    undecodable,
    async start(): Promise<void> {
      const logger = createLogger({ service: "watcher", level: "silent", host });
      const opened = await openBus({ config: config.common, service: "watcher", host, logger });
      bus = opened;
      nc = await connectTestNats();
      const eventSubscription = nc.subscribe(opened.subjects.event(host, "docker", ANY, ANY));
      subscription = eventSubscription;
      void (async () => {
        for await (const message of eventSubscription) {
          const decoded = codecs.event.decode(message.data);
          if (decoded.ok) events.push(decoded.value);
          else undecodable.push(decoded.detail);
        }
      })();
      await nc.flush();
      const started = createDockerWatcher({
        docker: wrap(createDockerodeApi({ socketPath: "/var/run/docker.sock" })),
        js: opened.js,
        subjects: opened.subjects,
        host,
        logger,
        inventoryIntervalMs: config.inventoryIntervalMs,
        dockerTimeoutMs: config.docker.timeoutMs,
        maxPayloadBytes: () => opened.nc.info?.max_payload ?? MiB,
      });
      watcher = started;
      started.start();
      await eventually(() => (started.isConnected() ? true : undefined), {
        timeoutMs: 10_000,
        what: "the watcher to follow events",
      });
    },
    async stop(): Promise<void> {
      await watcher?.stop();
      subscription?.unsubscribe();
      if (nc) {
        await deleteTestStreams(nc, prefix);
        await nc.close();
      }
      await bus?.drain();
    },
  };
}

describe("watcher events from real containers", () => {
  const docker = testDocker();
  const watched = watchedHost("events");
  const { events, undecodable } = watched;
  const workloads: Workload[] = [];

  const eventsOf = (id: string, action?: string) =>
    events.filter(
      (event) => event.actor.external_id === id && (action === undefined || event.action === action),
    );
  const waitFor = (id: string, action: string, what: string, timeoutMs = 15_000) =>
    eventually(() => eventsOf(id, action)[0], { timeoutMs, what });

  beforeAll(() => watched.start());

  afterAll(async () => {
    await watched.stop();
    await Promise.all(workloads.map((workload) => workload.remove()));
  });

  it("reports an OOM kill: the oom event, then a die with exit code 137 and oom_killed", async () => {
    // /dev/shm is tmpfs charged to the container's memory; ShmSize is raised so that the
    // memory limit, not the size of /dev/shm, is what stops dd.
    const workload = await startWorkload(docker, {
      // A moment before filling memory: a container OOM-killed within milliseconds of its start
      // can die before containerd watches its cgroup's OOM count, and then dockerd sends no
      // oom and says OOMKilled false (seen on a busy machine: killed 7 ms after it started).
      script: "sleep 1; exec dd if=/dev/zero of=/dev/shm/fill bs=1M count=256",
      namePrefix: "crowsnest-events-oom",
      hostConfig: { Memory: 32 * MiB, MemorySwap: 32 * MiB, ShmSize: 512 * MiB },
    });
    workloads.push(workload);
    const die = await waitFor(workload.id, "die", "the die of the OOM-killed container");
    const oom = await waitFor(workload.id, "oom", "the oom event");
    expect(die).toMatchObject({ exit_code: 137, oom_killed: true, synthesized: false });
    expect(oom).toMatchObject({ exit_code: null, oom_killed: null });
    expect(BigInt(oom.ts_nano ?? "0")).toBeLessThanOrEqual(BigInt(die.ts_nano ?? "0"));
    expect((await workload.container.inspect()).State.OOMKilled).toBe(true);
  });

  it("does not call a plain SIGKILL an OOM kill", async () => {
    const workload = await startWorkload(docker, { script: "sleep 60", namePrefix: "crowsnest-events-kill" });
    workloads.push(workload);
    await waitFor(workload.id, "start", "the start");
    await workload.container.kill({ signal: "SIGKILL" });
    const kill = await waitFor(workload.id, "kill", "the kill event");
    const die = await waitFor(workload.id, "die", "the die after SIGKILL");
    expect(kill.signal).toBe("9");
    expect(die).toMatchObject({ exit_code: 137, oom_killed: false });
  });

  it("reports a health check that fails, then passes, with the failing streak and the probe's output", async () => {
    const workload = await startWorkload(docker, {
      script: "sleep 4; touch /tmp/ok; sleep 60",
      namePrefix: "crowsnest-events-health",
      healthcheck: {
        Test: ["CMD-SHELL", "if test -f /tmp/ok; then echo ready; else echo not ready yet; exit 1; fi"],
        Interval: SECOND_NS,
        Timeout: SECOND_NS,
        Retries: 1,
        StartPeriod: 0,
      },
    });
    workloads.push(workload);
    const healthy = await eventually(
      () => eventsOf(workload.id, "health_status").find((event) => event.health_status === "healthy"),
      { timeoutMs: 20_000, what: "the healthy event" },
    );
    const statuses = eventsOf(workload.id, "health_status");
    expect(statuses.map((event) => event.health_status)).toEqual(["unhealthy", "healthy"]);
    const unhealthy = statuses[0];
    expect(Number(unhealthy?.attributes.health_failing_streak)).toBeGreaterThanOrEqual(1);
    expect(unhealthy?.attributes.health_output).toContain("not ready yet");
    expect(healthy.attributes.health_failing_streak).toBe("0");
    expect(healthy.attributes.health_output).toContain("ready");
    expect(healthy.attributes.health_output).not.toContain("not ready");
    expect(Date.parse(healthy.ts) - Date.parse(unhealthy?.ts ?? "")).toBeGreaterThanOrEqual(1000);
  });

  it("reports pause and unpause, rename under the new name, and the kill's signal", async () => {
    const workload = await startWorkload(docker, {
      script: 'trap "exit 0" TERM; while :; do sleep 0.2; done',
      namePrefix: "crowsnest-events-pause",
    });
    workloads.push(workload);
    await waitFor(workload.id, "start", "the start");
    await workload.container.pause();
    await workload.container.unpause();
    const renamed = `${workload.name}-renamed`;
    await workload.container.rename({ name: renamed });
    await workload.container.kill({ signal: "SIGTERM" });
    await waitFor(workload.id, "die", "the die after SIGTERM");
    await workload.container.remove();
    await waitFor(workload.id, "destroy", "the destroy");

    expect(eventsOf(workload.id).map((event) => event.action)).toEqual([
      "create",
      "start",
      "pause",
      "unpause",
      "rename",
      "kill",
      "die",
      "destroy",
    ]);
    expect(eventsOf(workload.id, "rename")[0]).toMatchObject({
      actor: { name: renamed },
      attributes: { oldName: `/${workload.name}` },
    });
    expect(eventsOf(workload.id, "kill")[0]?.signal).toBe("15");
    expect(eventsOf(workload.id, "die")[0]).toMatchObject({
      exit_code: 0,
      oom_killed: false,
      actor: { name: renamed },
    });
    const nanos = eventsOf(workload.id).map((event) => BigInt(event.ts_nano ?? "0"));
    expect([...nanos].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(nanos);
    expect(events.every((event) => !event.synthesized)).toBe(true);
    expect(undecodable).toEqual([]);
  });
});

/**
 * dockerd's event stream with each `oom` line held back until `afterDieMs` after the `die` of its
 * container (at most `maxHoldMs`), as dockerd now and then logs an OOM kill's `die` before its
 * `oom`; `onDelivered` hears of each oom as it is let through.
 */
function delayingOomLines(
  source: DockerEventStream,
  options: { afterDieMs: number; maxHoldMs: number },
  onDelivered: (containerId: string) => void,
): DockerEventStream {
  const out = new PassThrough();
  const heldByContainer = new Map<string, { lines: string[]; timer: NodeJS.Timeout }>();
  const diedAlready = new Set<string>();
  let ended = false;
  const endIfDone = () => {
    if (ended && heldByContainer.size === 0 && !out.destroyed) out.end();
  };
  const release = (id: string) => {
    const held = heldByContainer.get(id);
    if (held === undefined) return;
    clearTimeout(held.timer);
    heldByContainer.delete(id);
    onDelivered(id);
    for (const line of held.lines) if (!out.destroyed) out.write(line);
    endIfDone();
  };
  void (async () => {
    let buffered = "";
    try {
      for await (const chunk of source) {
        buffered += chunk.toString();
        for (let end = buffered.indexOf("\n"); end !== -1; end = buffered.indexOf("\n")) {
          const line = buffered.slice(0, end + 1);
          buffered = buffered.slice(end + 1);
          const event = JSON.parse(line) as { Action?: string; Actor?: { ID?: string } };
          const id = event.Actor?.ID ?? "";
          if (event.Action === "oom") {
            const held = heldByContainer.get(id);
            // dockerd sent the die first itself: held as long after it as after one that follows.
            const holdMs = diedAlready.has(id) ? options.afterDieMs : options.maxHoldMs;
            if (held !== undefined) held.lines.push(line);
            else heldByContainer.set(id, { lines: [line], timer: setTimeout(() => release(id), holdMs) });
            continue;
          }
          out.write(line);
          if (event.Action !== "die") continue;
          diedAlready.add(id);
          if (heldByContainer.has(id)) setTimeout(() => release(id), options.afterDieMs);
        }
      }
    } catch {
      // The stream was destroyed: the watcher is stopping or reconnecting.
    }
    ended = true;
    endIfDone();
  })();
  const destroyOut = out.destroy.bind(out);
  return Object.assign(out, {
    destroy(error?: Error) {
      for (const held of heldByContainer.values()) clearTimeout(held.timer);
      heldByContainer.clear();
      source.destroy();
      return destroyOut(error);
    },
  });
}

describe("an OOM kill whose oom dockerd delivers after the die", () => {
  const docker = testDocker();
  /** Containers whose oom line went through: until then their inspect says OOMKilled false, as dockerd's does. */
  const oomDelivered = new Set<string>();
  const watched = watchedHost("late-oom", (real) => ({
    ...real,
    async getEvents(options) {
      return delayingOomLines(await real.getEvents(options), { afterDieMs: 300, maxHoldMs: 5000 }, (id) =>
        oomDelivered.add(id),
      );
    },
    async inspectContainer(ref, options) {
      // What dockerd knew when asked, not when its answer came.
      const delivered = new Set(oomDelivered);
      const json = (await real.inspectContainer(ref, options)) as { Id?: string; State?: object };
      if (json.Id === undefined || delivered.has(json.Id)) return json;
      return { ...json, State: { ...json.State, OOMKilled: false } };
    },
  }));
  const { events } = watched;
  const workloads: Workload[] = [];

  beforeAll(() => watched.start());

  afterAll(async () => {
    await watched.stop();
    await Promise.all(workloads.map((workload) => workload.remove()));
  });

  it("still publishes exactly one OOM death, and the oom once", async () => {
    const workload = await startWorkload(docker, {
      // A moment before filling memory: a container OOM-killed within milliseconds of its start
      // can die before containerd watches its cgroup's OOM count, and then dockerd sends no
      // oom and says OOMKilled false (seen on a busy machine: killed 7 ms after it started).
      script: "sleep 1; exec dd if=/dev/zero of=/dev/shm/fill bs=1M count=256",
      namePrefix: "crowsnest-events-late-oom",
      hostConfig: { Memory: 32 * MiB, MemorySwap: 32 * MiB, ShmSize: 512 * MiB },
    });
    workloads.push(workload);
    const of = (action: string) =>
      events.filter((event) => event.actor.external_id === workload.id && event.action === action);
    await eventually(() => (of("die").length > 0 && of("oom").length > 0 ? true : undefined), {
      timeoutMs: 30_000,
      what: "the die and the oom",
    }).catch(async (error: unknown) => {
      // What did come, and what dockerd says of the container, to tell a missing kill from a lost event.
      const seen = events
        .filter((event) => event.actor.external_id === workload.id)
        .map((event) => `${event.action}${event.exit_code === undefined ? "" : ` exit ${event.exit_code}`}`);
      const state = ((await workload.container.inspect()) as { State: object }).State;
      throw new Error(
        `${String(error)}; published: [${seen.join(", ")}]; dockerd's state: ${JSON.stringify(state)}`,
      );
    });
    // Anything repeated would have come by now: the publish queue is in order.
    await workload.container.remove();
    await eventually(() => of("destroy")[0], { timeoutMs: 15_000, what: "the destroy" });
    expect(of("die")).toHaveLength(1);
    expect(of("die")[0]).toMatchObject({ exit_code: 137, oom_killed: true });
    expect(of("oom")).toHaveLength(1);
    const actions = events.filter((event) => event.actor.external_id === workload.id).map((e) => e.action);
    expect(actions.indexOf("die")).toBeLessThan(actions.indexOf("oom"));
  });
});
