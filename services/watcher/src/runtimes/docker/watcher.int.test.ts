// The watcher against the real dockerd and a real NATS server: what a subscriber of the bus
// sees when containers start and die, at start-up and across a broken event stream.

import {
  ANY,
  type Bus,
  codecs,
  createLogger,
  DEFAULT_STREAM_RETENTION,
  type EventMessage,
  type InventoryMessage,
  openBus,
  streamDefinitions,
} from "@crowsnest/shared";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordMessages } from "../../../../../test/support/bus-fixtures.ts";
import {
  startWorkload,
  TEST_LABEL,
  testDocker,
  type Workload,
} from "../../../../../test/support/docker-workloads.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
  uniqueSuffix,
  workloadImage,
} from "../../../../../test/support/test-env.ts";
import { parseWatcherConfig } from "../../config.ts";
import type { RuntimeWatcher } from "../watcher-runtime.ts";
import type { DockerApi, DockerEventStream } from "./docker-api.ts";
import { createDockerWatcher } from "./docker-watcher.ts";
import { createDockerodeApi } from "./dockerode-adapter.ts";

const DOCKER_SOCKET = "/var/run/docker.sock";

describe("watcher with dockerd and NATS", () => {
  const docker = testDocker();
  const host = `itest-${uniqueSuffix()}`;
  const config = parseWatcherConfig({
    CROWSNEST_NATS_URL: natsUrl(),
    CROWSNEST_SUBJECT_PREFIX: testSubjectPrefix(),
    CROWSNEST_HOST_NAME: host,
    CROWSNEST_DOCKER_SOCKET: DOCKER_SOCKET,
  });
  const workloads: Workload[] = [];
  const events: EventMessage[] = [];
  const inventories: InventoryMessage[] = [];
  const undecodable: string[] = [];

  // The adapter as main.ts builds it, with the streams it opens kept so the test can break
  // one, and a gate that holds a resubscription back to make a gap.
  const realDocker = createDockerodeApi({ socketPath: DOCKER_SOCKET });
  const openedStreams: DockerEventStream[] = [];
  const sinceAsked: (number | undefined)[] = [];
  let gate: Promise<void> = Promise.resolve();
  const gatedDocker: DockerApi = {
    ...realDocker,
    async getEvents(options) {
      await gate;
      sinceAsked.push(options.since);
      const stream = await realDocker.getEvents(options);
      openedStreams.push(stream);
      return stream;
    },
  };

  let bus: Bus;
  let nc: NatsConnection;
  let subscriptions: Subscription[] = [];
  let watcher: RuntimeWatcher;
  let preexisting: Workload;

  const eventsOf = (containerId: string, action: string): EventMessage[] =>
    events.filter((event) => event.actor.external_id === containerId && event.action === action);

  beforeAll(async () => {
    preexisting = await startWorkload(docker, { script: "sleep 120", namePrefix: "crowsnest-watcher-pre" });
    workloads.push(preexisting);

    const logger = createLogger({ service: "watcher", level: "silent", host });
    bus = await openBus({ config: config.common, service: "watcher", host, logger });
    nc = await connectTestNats();
    subscriptions = [
      recordMessages(nc, bus.subjects.event(host, "docker", ANY, ANY), codecs.event, events, undecodable),
      recordMessages(nc, bus.subjects.inventory(host, "docker"), codecs.inventory, inventories, undecodable),
    ];
    await nc.flush();

    watcher = createDockerWatcher({
      docker: gatedDocker,
      js: bus.js,
      subjects: bus.subjects,
      host,
      logger,
      inventoryIntervalMs: config.inventoryIntervalMs,
      maxPayloadBytes: () => bus.nc.info?.max_payload ?? 1024 * 1024,
      reconnect: { initialMs: 100, maxMs: 1000 },
    });
    watcher.start();
  });

  afterAll(async () => {
    await watcher?.stop();
    for (const subscription of subscriptions) subscription.unsubscribe();
    await Promise.all(workloads.map((workload) => workload.remove()));
    if (nc) {
      const jsm = await jetstreamManager(nc);
      for (const { config: stream } of streamDefinitions(bus.subjects, DEFAULT_STREAM_RETENTION)) {
        await jsm.streams.delete(stream.name).catch(() => undefined);
      }
      await nc.close();
    }
    await bus?.drain();
  });

  it("publishes a startup inventory, then the start and die of a container with the runtime's times", async () => {
    const startup = await eventually(
      () =>
        inventories
          .filter((inventory) => inventory.reason === "startup")
          .flatMap((inventory) => inventory.containers)
          .find((container) => container.external_id === preexisting.id),
      { timeoutMs: 10_000, what: "the startup inventory listing the container started before the watcher" },
    );
    expect(startup).toMatchObject({
      name: preexisting.name,
      image: workloadImage(),
      state: "running",
      labels: { [TEST_LABEL]: "1" },
    });
    expect(Date.parse(startup.created_at ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(watcher.isConnected()).toBe(true);

    const workload = await startWorkload(docker, {
      script: "sleep 1; exit 3",
      namePrefix: "crowsnest-watcher",
    });
    workloads.push(workload);
    const start = await eventually(() => eventsOf(workload.id, "start")[0], {
      timeoutMs: 10_000,
      what: "the start event",
    });
    const die = await eventually(() => eventsOf(workload.id, "die")[0], {
      timeoutMs: 10_000,
      what: "the die event",
    });

    expect(start).toMatchObject({
      host,
      runtime: "docker",
      kind: "container",
      actor: { name: workload.name },
    });
    expect(die).toMatchObject({
      exit_code: 3,
      oom_killed: false,
      synthesized: false,
      image: workloadImage(),
      actor: { external_id: workload.id, name: workload.name },
      event_id: `${host}/docker/${die.ts_nano}/${workload.id}/die`,
    });
    for (const event of [start, die]) {
      expect(Math.abs(Date.parse(event.ts) - Date.now())).toBeLessThan(10_000);
      // ts is ts_nano cut to milliseconds: both come from dockerd.
      expect(Date.parse(event.ts)).toBe(Number(BigInt(event.ts_nano ?? "0") / 1_000_000n));
    }
    // `sleep 1` ran between them.
    expect(Date.parse(die.ts) - Date.parse(start.ts)).toBeGreaterThanOrEqual(900);
    expect(undecodable).toEqual([]);
  });

  it("after the event stream reconnects, reports a container that died in the gap exactly once", async () => {
    const workload = await startWorkload(docker, {
      script: "sleep 2; exit 5",
      namePrefix: "crowsnest-watcher",
    });
    workloads.push(workload);
    await eventually(() => eventsOf(workload.id, "start")[0], { timeoutMs: 10_000, what: "the start event" });

    let openGate = (): void => undefined;
    gate = new Promise((resolve) => {
      openGate = resolve;
    });
    const streamsBefore = openedStreams.length;
    openedStreams.at(-1)?.destroy();
    await eventually(() => (watcher.isConnected() ? undefined : true), {
      timeoutMs: 5000,
      what: "the watcher to notice the broken stream",
    });
    await eventually(
      async () => ((await workload.container.inspect()).State.Status === "exited" ? true : undefined),
      { timeoutMs: 10_000, what: "the container to exit during the gap" },
    );
    expect(eventsOf(workload.id, "die")).toEqual([]);
    openGate();

    const die = await eventually(() => eventsOf(workload.id, "die")[0], {
      timeoutMs: 10_000,
      what: "the die event replayed after the reconnect",
    });
    expect(die).toMatchObject({ exit_code: 5, oom_killed: false, synthesized: false });
    expect(openedStreams.length).toBe(streamsBefore + 1);
    // `since` is the last event's time in seconds (not nanoseconds), a moment ago.
    const since = sinceAsked.at(-1) ?? 0;
    expect(since).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(since).toBeLessThanOrEqual(Date.now() / 1000);

    const resync = await eventually(
      () =>
        inventories
          .filter((inventory) => inventory.reason === "resync")
          .flatMap((inventory) => inventory.containers)
          .find((container) => container.external_id === workload.id),
      { timeoutMs: 10_000, what: "the resync inventory" },
    );
    expect(resync.state).toBe("exited");
    expect(watcher.isConnected()).toBe(true);

    // dockerd replayed from the last event's second; nothing already published comes twice.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(eventsOf(workload.id, "die")).toHaveLength(1);
    expect(eventsOf(workload.id, "start")).toHaveLength(1);
    const ids = events.map((event) => event.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(undecodable).toEqual([]);
  });
});
