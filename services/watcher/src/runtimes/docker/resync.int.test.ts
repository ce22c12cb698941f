// The watcher across restarts of dockerd, on a private dockerd the test may stop: a restarted
// dockerd has forgotten its events, so what happened while it was down (containers it killed
// on its way down, containers removed between restarts) reaches the bus only as synthesized
// events, once each, before the resync inventory that shows the new state.
import { type Bus, createLogger, type InventoryMessage, openBus } from "@crowsnest/shared";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deleteTestStreams,
  recordWatcherMessages,
  type WatcherMessage,
} from "../../../../../test/support/bus-fixtures.ts";
import { startWorkload, type Workload } from "../../../../../test/support/docker-workloads.ts";
import { type PrivateDockerd, startPrivateDockerd } from "../../../../../test/support/private-dockerd.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
  uniqueSuffix,
} from "../../../../../test/support/test-env.ts";
import { parseWatcherConfig } from "../../config.ts";
import { rfc3339ToTimestamp } from "../../time/nano-time.ts";
import type { RuntimeWatcher } from "../watcher-runtime.ts";
import type { DockerApi } from "./docker-api.ts";
import { createDockerWatcher } from "./docker-watcher.ts";
import { createDockerodeApi } from "./dockerode-adapter.ts";

type Received = WatcherMessage;

describe("watcher across dockerd restarts", () => {
  const host = `itest-resync-${uniqueSuffix()}`;
  const prefix = testSubjectPrefix();
  const config = parseWatcherConfig({
    CROWSNEST_NATS_URL: natsUrl(),
    CROWSNEST_SUBJECT_PREFIX: prefix,
    CROWSNEST_HOST_NAME: host,
  });
  if (config.runtime !== "docker") throw new Error("the default runtime is docker");
  /** Events and inventories in the order the bus delivered them. */
  const received: Received[] = [];
  const undecodable: string[] = [];
  let dockerd: PrivateDockerd;
  let bus: Bus;
  let nc: NatsConnection;
  let subscription: Subscription;
  let watcher: RuntimeWatcher;
  let gate: Promise<void> = Promise.resolve();
  const workloads: Workload[] = [];

  const eventsOf = (id: string, action: string) =>
    received.flatMap((entry) =>
      entry.kind === "event" && entry.event.actor.external_id === id && entry.event.action === action
        ? [entry.event]
        : [],
    );
  const inventoriesOf = (reason: InventoryMessage["reason"]) =>
    received.flatMap((entry) =>
      entry.kind === "inventory" && entry.inventory.reason === reason ? [entry.inventory] : [],
    );

  beforeAll(async () => {
    dockerd = await startPrivateDockerd();
    const logger = createLogger({ service: "watcher", level: "silent", host });
    bus = await openBus({ config: config.common, service: "watcher", host, logger });
    nc = await connectTestNats();
    // One subscription for events and inventories, so their order on the bus is kept.
    subscription = recordWatcherMessages(nc, bus.subjects.root, received, undecodable);
    await nc.flush();

    const realDocker = createDockerodeApi({ socketPath: dockerd.socketPath });
    // Holds resubscriptions back while the test restarts dockerd, so the watcher cannot see
    // the daemon in between.
    const gatedDocker: DockerApi = {
      ...realDocker,
      async getEvents(options) {
        await gate;
        return realDocker.getEvents(options);
      },
    };
    watcher = createDockerWatcher({
      docker: gatedDocker,
      js: bus.js,
      subjects: bus.subjects,
      host,
      logger,
      inventoryIntervalMs: config.inventoryIntervalMs,
      dockerTimeoutMs: config.docker.timeoutMs,
      maxPayloadBytes: () => bus.nc.info?.max_payload ?? 1024 * 1024,
      reconnect: { initialMs: 100, maxMs: 500 },
    });
  });

  afterAll(async () => {
    await watcher?.stop();
    subscription?.unsubscribe();
    await Promise.all(workloads.map((workload) => workload.remove()));
    await dockerd?.remove();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    await bus?.drain();
  });

  it("reports what happened while dockerd was down or restarted, each transition exactly once, before the resync inventory", async () => {
    // Ends on SIGTERM with a code of its own, as soon as dockerd or `docker stop` stops it.
    const script = 'trap "exit 7" TERM; while :; do sleep 0.2; done';
    const stopped = await startWorkload(dockerd.docker, {
      script,
      namePrefix: "crowsnest-resync-stopped",
      hostConfig: { RestartPolicy: { Name: "no" } },
    });
    // Started again by the restarted dockerd, then stopped while the watcher is not looking.
    const restarted = await startWorkload(dockerd.docker, {
      script,
      namePrefix: "crowsnest-resync-restarted",
      hostConfig: { RestartPolicy: { Name: "unless-stopped" } },
    });
    const removed = await startWorkload(dockerd.docker, {
      script: "exit 0",
      namePrefix: "crowsnest-resync-rm",
    });
    workloads.push(stopped, restarted, removed);
    await eventually(
      async () => ((await removed.container.inspect()).State.Status === "exited" ? true : undefined),
      { timeoutMs: 10_000, what: "the short container to exit" },
    );
    const firstRun = (await restarted.container.inspect()).State.StartedAt;

    watcher.start();
    const startup = await eventually(() => inventoriesOf("startup")[0], {
      timeoutMs: 10_000,
      what: "the startup inventory",
    });
    // Every container with what inspect knows, not just the list's fields.
    expect(startup.containers.find((c) => c.external_id === stopped.id)).toMatchObject({
      state: "running",
      started_at: expect.stringMatching(/Z$/),
      pid: expect.any(Number),
      restart_count: 0,
      exit_code: null,
    });
    expect(startup.containers.find((c) => c.external_id === removed.id)?.state).toBe("exited");
    // Nothing is synthesized at startup: there was nothing to compare with.
    expect(received.some((entry) => entry.kind === "event" && entry.event.synthesized)).toBe(false);

    let openGate = (): void => undefined;
    gate = new Promise((resolve) => {
      openGate = resolve;
    });
    await dockerd.stop();
    await eventually(() => (watcher.isConnected() ? undefined : true), {
      timeoutMs: 5000,
      what: "the watcher to notice that dockerd is gone",
    });
    await dockerd.start();
    await eventually(
      async () => {
        const state = (await restarted.container.inspect()).State;
        return state.Running && state.StartedAt !== firstRun ? true : undefined;
      },
      { timeoutMs: 10_000, what: "dockerd to start the `unless-stopped` container again" },
    );
    await restarted.container.stop();
    await removed.container.remove();
    // A second restart forgets the events of the gap.
    await dockerd.stop();
    await dockerd.start();
    const stoppedState = (await stopped.container.inspect()).State;
    const restartedState = (await restarted.container.inspect()).State;
    expect(stoppedState).toMatchObject({ Status: "exited", ExitCode: 7 });
    expect(restartedState).toMatchObject({ Status: "exited", ExitCode: 7 });
    openGate();

    // The container dockerd stopped on its way down: its die may have reached the stream
    // before the API closed, or be synthesized after; either way once, with its exit code.
    const die = await eventually(() => eventsOf(stopped.id, "die")[0], {
      timeoutMs: 15_000,
      what: "the die of the container dockerd stopped",
    });
    expect(die).toMatchObject({ exit_code: 7, oom_killed: false, actor: { name: stopped.name } });
    if (die.synthesized) expect(die.ts).toBe(rfc3339ToTimestamp(stoppedState.FinishedAt));

    // The run started and ended in the gap is synthesized, with inspect's times.
    const lastDie = await eventually(
      () =>
        eventsOf(restarted.id, "die").find(
          (event) => event.ts === rfc3339ToTimestamp(restartedState.FinishedAt),
        ),
      { timeoutMs: 5000, what: "the die of the run in the gap" },
    );
    expect(lastDie).toMatchObject({
      synthesized: true,
      exit_code: 7,
      oom_killed: false,
      attributes: { ts_source: "finished_at", exitCode: "7" },
    });
    expect(lastDie.event_id).toMatch(new RegExp(`^${host}/docker/synthesized/${restarted.id}/die/\\d+$`));
    expect(eventsOf(restarted.id, "start")).toEqual([
      expect.objectContaining({
        synthesized: true,
        ts: rfc3339ToTimestamp(restartedState.StartedAt),
        attributes: expect.objectContaining({ ts_source: "started_at" }),
      }),
    ]);
    // Two runs ended: the one dockerd stopped going down (seen or inferred) and the one in the gap.
    expect(eventsOf(restarted.id, "die")).toHaveLength(2);

    const destroy = await eventually(() => eventsOf(removed.id, "destroy")[0], {
      timeoutMs: 5000,
      what: "the destroy of the container removed between restarts",
    });
    expect(destroy).toMatchObject({ synthesized: true, actor: { name: removed.name } });

    const resync = await eventually(() => inventoriesOf("resync")[0], {
      timeoutMs: 10_000,
      what: "the resync inventory",
    });
    expect(resync.containers.find((c) => c.external_id === stopped.id)).toMatchObject({
      state: "exited",
      exit_code: 7,
      finished_at: rfc3339ToTimestamp(stoppedState.FinishedAt),
    });
    expect(resync.containers.some((c) => c.external_id === removed.id)).toBe(false);
    // The missed transitions come before the inventory that already shows their outcome.
    const position = (match: (entry: Received) => boolean) => received.findIndex(match);
    const resyncAt = position((entry) => entry.kind === "inventory" && entry.inventory.reason === "resync");
    for (const event of [die, lastDie, destroy]) {
      expect(position((entry) => entry.kind === "event" && entry.event === event)).toBeLessThan(resyncAt);
    }

    // Exactly once, also after another reconnect resynchronizes again.
    await dockerd.stop();
    await dockerd.start();
    await eventually(() => (inventoriesOf("resync").length >= 2 ? true : undefined), {
      timeoutMs: 15_000,
      what: "a second resync",
    });
    expect(eventsOf(stopped.id, "die")).toHaveLength(1);
    expect(eventsOf(restarted.id, "die")).toHaveLength(2);
    expect(eventsOf(restarted.id, "start")).toHaveLength(1);
    expect(eventsOf(removed.id, "destroy")).toHaveLength(1);
    const ids = received.flatMap((entry) => (entry.kind === "event" ? [entry.event.event_id] : []));
    expect(new Set(ids).size).toBe(ids.length);
    expect(undecodable).toEqual([]);
  });
});
