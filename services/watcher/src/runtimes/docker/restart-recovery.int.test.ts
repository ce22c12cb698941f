// The watcher process stopped (SIGTERM, and once kill -9) while containers change, then started
// again, on a private dockerd and the real NATS: what happened meanwhile reaches the bus exactly
// once, before the startup inventory. While dockerd still has the events they are replayed (the
// real events, with their real ids); after a restart of dockerd, which forgets them, they are
// synthesized from the containers' states. A restart with nothing changed publishes nothing.
import type { EventMessage, InventoryMessage } from "@crowsnest/shared";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deleteTestStreams,
  recordWatcherMessages,
  startupInventorySince,
  type WatcherMessage,
  watcherEventsSince,
} from "../../../../../test/support/bus-fixtures.ts";
import { startWorkload, type Workload } from "../../../../../test/support/docker-workloads.ts";
import { type PrivateDockerd, startPrivateDockerd } from "../../../../../test/support/private-dockerd.ts";
import { type ServiceProcess, startService } from "../../../../../test/support/service-process.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
  uniqueSuffix,
} from "../../../../../test/support/test-env.ts";
import { rfc3339ToTimestamp } from "../../time/nano-time.ts";

type Received = WatcherMessage;

/** The lifecycle transitions a test expects; kill and stop come with them only when replayed. */
const TRANSITIONS = new Set([
  "create",
  "start",
  "die",
  "pause",
  "unpause",
  "rename",
  "destroy",
  "health_status",
]);

describe("watcher restarts", () => {
  const host = `itest-restart-${uniqueSuffix()}`;
  const prefix = testSubjectPrefix();
  const received: Received[] = [];
  const undecodable: string[] = [];
  const workloads: Workload[] = [];
  let dockerd: PrivateDockerd;
  let nc: NatsConnection;
  let subscription: Subscription;
  let watcher: ServiceProcess | undefined;

  const startWatcher = async (): Promise<InventoryMessage> => {
    const before = received.length;
    watcher = startService("watcher", {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HOST_NAME: host,
      CROWSNEST_DOCKER_SOCKET: dockerd.socketPath,
      CROWSNEST_LOG_LEVEL: "info",
    });
    // Missed transitions are queued before the startup inventory, on one ordered queue.
    return await eventually(() => startupInventorySince(received, before), {
      timeoutMs: 30_000,
      what: "the startup inventory",
    });
  };

  /** The events received since `from` (an index into `received`). */
  const eventsSince = (from: number): EventMessage[] => watcherEventsSince(received, from);
  const transitionsSince = (from: number): string[] =>
    eventsSince(from)
      .filter((event) => TRANSITIONS.has(event.action))
      .map((event) => `${nameOf(event.actor.external_id)} ${event.action}`)
      .sort();
  const nameOf = (id: string): string => workloads.find((w) => w.id === id)?.name.split("-")[2] ?? id;

  const start = async (role: string): Promise<Workload> => {
    const workload = await startWorkload(dockerd.docker, {
      // Exits at once on SIGTERM, so stopping dockerd does not wait out a timeout.
      script: 'trap "exit 3" TERM; while :; do sleep 0.2; done',
      namePrefix: `crowsnest-restart-${role}`,
      hostConfig: { RestartPolicy: { Name: "no" } },
    });
    workloads.push(workload);
    return workload;
  };

  /** The cursor the watcher recorded: dockerd's time of the newest event it published. */
  const recordedCursor = async (): Promise<bigint | undefined> => {
    const kv = await new Kvm(nc).open(`${prefix.toUpperCase()}_WATCHER_STATE`);
    const entry = await kv.get(`${host}.docker.cursor`);
    if (entry === null || entry.operation !== "PUT") return undefined;
    return BigInt(entry.json<{ cursor: string }>().cursor);
  };

  beforeAll(async () => {
    dockerd = await startPrivateDockerd();
    nc = await connectTestNats();
    const root = `${prefix}.v1`;
    // One subscription for events and inventories, so their order on the bus is kept.
    subscription = recordWatcherMessages(nc, root, received, undecodable);
    await nc.flush();
  }, 120_000);

  afterAll(async () => {
    await watcher?.stop();
    subscription?.unsubscribe();
    await Promise.all(workloads.map((workload) => workload.remove()));
    await dockerd?.remove();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
  });

  let killed: Workload;
  let removed: Workload;
  let paused: Workload;

  it("starts on a host it never saw: the inventory, nothing synthesized", { timeout: 60_000 }, async () => {
    killed = await start("killed");
    removed = await start("removed");
    paused = await start("paused");
    const inventory = await startWatcher();
    expect(inventory.containers.map((c) => c.external_id).sort()).toEqual(
      [killed.id, removed.id, paused.id].sort(),
    );
    expect(eventsSince(0)).toEqual([]);
  });

  it("after a SIGTERM: a kill, a removal and a new container reach the bus once each", {
    timeout: 90_000,
  }, async () => {
    expect(await watcher?.stop()).toBe(0);
    const mark = received.length;
    await killed.container.kill({ signal: "SIGKILL" });
    await removed.container.remove({ force: true });
    const started = await start("started");

    const inventory = await startWatcher();
    expect(transitionsSince(mark)).toEqual(
      ["killed die", "removed die", "removed destroy", "started create", "started start"].sort(),
    );
    // dockerd still had them: the real events, with the ids they have live, each once.
    const events = eventsSince(mark);
    expect(events.every((event) => !event.synthesized)).toBe(true);
    for (const event of events) {
      expect(event.event_id).toBe(
        `${host}/docker/${event.ts_nano}/${event.actor.external_id}/${event.action}`,
      );
    }
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    expect(events.find((e) => e.action === "die" && e.actor.external_id === killed.id)?.exit_code).toBe(137);
    expect(inventory.containers.map((c) => c.external_id).sort()).toEqual(
      [killed.id, paused.id, started.id].sort(),
    );
  });

  it("after a restart with nothing changed: nothing", { timeout: 90_000 }, async () => {
    expect(await watcher?.stop()).toBe(0);
    const mark = received.length;
    await startWatcher();
    expect(eventsSince(mark)).toEqual([]);
  });

  it("after kill -9: what changed meanwhile once, nothing it had published again", {
    timeout: 90_000,
  }, async () => {
    // A live event, recorded before the crash: the watcher must not publish it again.
    const beforePause = received.length;
    await paused.container.pause();
    const pause = await eventually(() => eventsSince(beforePause).find((e) => e.action === "pause"), {
      timeoutMs: 15_000,
      what: "the live pause",
    });
    await eventually(
      async () => ((await recordedCursor()) === BigInt(pause.ts_nano ?? "0") ? true : undefined),
      {
        timeoutMs: 15_000,
        what: "the watcher to record the pause",
      },
    );
    await watcher?.kill();
    const mark = received.length;
    const started = workloads.find((w) => w.name.includes("-started-"));
    await started?.container.remove({ force: true });
    await killed.container.start();
    await paused.container.unpause();

    await startWatcher();
    expect(transitionsSince(mark)).toEqual(
      ["started die", "started destroy", "killed start", "paused unpause"].sort(),
    );
    const events = eventsSince(mark);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    expect(events.some((e) => e.action === "pause")).toBe(false);
  });

  it("after dockerd forgot the events (it restarted too): the transitions synthesized from the containers' states, once", {
    timeout: 120_000,
  }, async () => {
    expect(await watcher?.stop()).toBe(0);
    const mark = received.length;
    // Stopping dockerd stops the running containers (exit 3 on SIGTERM); its restart forgets that.
    await dockerd.stop();
    await dockerd.start();
    const killedState = (await killed.container.inspect()).State;
    const pausedState = (await paused.container.inspect()).State;
    expect(killedState).toMatchObject({ Status: "exited", ExitCode: 3 });
    expect(pausedState).toMatchObject({ Status: "exited", ExitCode: 3 });

    await startWatcher();
    expect(transitionsSince(mark)).toEqual(["killed die", "paused die"].sort());
    for (const [workload, state] of [
      [killed, killedState],
      [paused, pausedState],
    ] as const) {
      const die = eventsSince(mark).find((e) => e.actor.external_id === workload.id);
      expect(die).toMatchObject({
        synthesized: true,
        exit_code: 3,
        oom_killed: false,
        ts: rfc3339ToTimestamp(state.FinishedAt),
        attributes: expect.objectContaining({ ts_source: "finished_at" }),
      });
      // The id the reconnect path gives it too: from FinishedAt, so a repeated recovery repeats it.
      expect(die?.event_id).toMatch(new RegExp(`^${host}/docker/synthesized/${workload.id}/die/\\d+$`));
    }

    // And once: another restart publishes nothing more.
    expect(await watcher?.stop()).toBe(0);
    const again = received.length;
    await startWatcher();
    expect(eventsSince(again)).toEqual([]);
    expect(undecodable).toEqual([]);
  });
});
