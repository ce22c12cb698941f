// The watcher of one Docker host: follows its event stream, publishes lifecycle events (real
// ones, and after a reconnect the ones it can tell it missed) and inventories through one
// ordered publish queue. main.ts builds it from configuration; the integration tests build it
// the same way against real dockerd and NATS.
import type { Logger, Subjects } from "@crowsnest/shared";
import type { DockerApi } from "./docker/docker-api.ts";
import { createDockerEventFollower } from "./events/docker-event-follower.ts";
import { createEventEnricher } from "./events/event-enricher.ts";
import { createContainerObserver } from "./inventory/container-observer.ts";
import { createInventoryPublisher } from "./inventory/inventory-publisher.ts";
import { createPublishQueue, type JetStreamPublisher } from "./publishing/publish-queue.ts";
import { ContainerStateTracker } from "./resync/container-state-tracker.ts";
import { createResyncCoordinator } from "./resync/resync-coordinator.ts";
import type { BackoffOptions } from "./retry/capped-backoff.ts";

export interface WatcherOptions {
  docker: DockerApi;
  js: JetStreamPublisher;
  subjects: Subjects;
  /** The host token of every subject and event id. */
  host: string;
  logger: Logger;
  inventoryIntervalMs: number;
  /** Deadline of each Docker call (list, inspect, the replay of a gap). */
  dockerTimeoutMs?: number;
  /** Inspect calls in flight at once when looking at every container. */
  inspectConcurrency?: number;
  /** The NATS server's max payload, read when each inventory is split. */
  maxPayloadBytes: () => number;
  /** Overrides of the event stream's reconnect backoff (tests use short delays). */
  reconnect?: BackoffOptions;
}

export interface Watcher {
  start(): void;
  /** Stops following events and periodic inventories, then publishes what is still queued. */
  stop(): Promise<void>;
  /** Whether dockerd's event stream is open right now. */
  isConnected(): boolean;
}

export function createWatcher(options: WatcherOptions): Watcher {
  const { docker, subjects, host, logger } = options;
  const dockerTimeoutMs = options.dockerTimeoutMs ?? 5000;
  const inspectConcurrency = options.inspectConcurrency ?? 8;
  const queue = createPublishQueue({ js: options.js, logger });
  const inventory = createInventoryPublisher({
    docker,
    queue,
    subjects,
    host,
    logger,
    intervalMs: options.inventoryIntervalMs,
    inspectConcurrency,
    dockerTimeoutMs,
    maxPayloadBytes: options.maxPayloadBytes,
  });
  const tracker = new ContainerStateTracker();
  const resync = createResyncCoordinator({
    observe: createContainerObserver({
      docker,
      logger,
      concurrency: inspectConcurrency,
      timeoutMs: dockerTimeoutMs,
    }),
    tracker,
    queue,
    inventory,
    subjects,
    host,
    logger,
  });
  const events = createDockerEventFollower({
    docker,
    queue,
    subjects,
    host,
    logger,
    onSubscribed: resync,
    enrich: createEventEnricher({ docker, logger, timeoutMs: dockerTimeoutMs }),
    onEvent: (event) => tracker.observeEvent(event, Date.now()),
    replayTimeoutMs: Math.max(dockerTimeoutMs, 10_000),
    ...(options.reconnect === undefined ? {} : { reconnect: options.reconnect }),
  });
  return {
    start() {
      events.start();
      inventory.start();
    },
    async stop() {
      await events.stop();
      await inventory.stop();
      await queue.close();
    },
    isConnected: () => events.isStreamOpen(),
  };
}
