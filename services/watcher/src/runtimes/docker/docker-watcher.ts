// The Docker runtime's watcher: follows one host's dockerd event stream, publishes lifecycle
// events (real ones, and after a reconnect or a restart the ones it can tell it missed) and
// inventories through one ordered publish queue, and records on the bus what it published, to
// resume from after a restart. docker-runtime.ts builds it from configuration; the integration
// tests build it the same way against real dockerd and NATS.
import type { EventMessage, Logger, Subjects } from "@crowsnest/shared";
import type { JetStreamPublisher } from "@crowsnest/shared/publishing";
import type { BackoffOptions } from "@crowsnest/shared/util/capped-backoff";
import { createEventPublisher } from "../../publishing/event-publisher.ts";
import { createWatcherQueue, DEFAULT_PUBLISH_STOP_TIMEOUT_MS } from "../../publishing/watcher-queue.ts";
import type { PublishedStateStore } from "../../recovery/published-state-store.ts";
import {
  ContainerStateTracker,
  type RecoveredContainer,
  type RememberedContainer,
} from "../../resync/container-state-tracker.ts";
import { msToNanos } from "../../time/nano-time.ts";
import type { RuntimeWatcher } from "../watcher-runtime.ts";
import { createContainerObserver } from "./container-observer.ts";
import type { DockerApi } from "./docker-api.ts";
import { createDockerEventFollower, type ResumePoint } from "./events/docker-event-follower.ts";
import { createEventEnricher } from "./events/event-enricher.ts";
import { createInventoryPublisher } from "./inventory-publisher.ts";
import { createResyncCoordinator } from "./resync-coordinator.ts";

export interface DockerWatcherOptions {
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
  /**
   * Where the watcher records what it published and reads it back at start, to publish what
   * it missed while it was not running; undefined: no recovery after a restart.
   */
  publishedState?: PublishedStateStore<RememberedContainer>;
  /** How long stop() waits for the last records to be written. */
  stateCloseTimeoutMs?: number;
  /** How long stop() keeps sending what is queued before it gives the rest up. */
  publishStopTimeoutMs?: number;
}

export function createDockerWatcher(options: DockerWatcherOptions): RuntimeWatcher {
  const { docker, subjects, host, logger } = options;
  const dockerTimeoutMs = options.dockerTimeoutMs ?? 5000;
  const inspectConcurrency = options.inspectConcurrency ?? 8;
  const queue = createWatcherQueue(options.js, logger);
  const publish = createEventPublisher({ queue, subjects, logger });
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
  const tracker = new ContainerStateTracker({ runtime: "docker" });
  const { publishedState } = options;
  /**
   * The recorded state reflects everything dockerd did up to this time (its nanoseconds): the
   * newest event published, or the start of the newest look at every container (the watcher
   * and dockerd share the host's clock). A replay after a restart skips what is not later.
   */
  let recordedThroughNano = 0n;

  /**
   * Once what is queued up to a handled event is stored: its container's state as of the event,
   * and the cursor (also for an event not published because it was already, so a replay after
   * a restart does not bring it again).
   */
  const recordAfterEvent = (event: EventMessage): void => {
    if (publishedState === undefined) return;
    const id = event.actor.external_id;
    const state = tracker.remembered(id);
    const nano = event.ts_nano === null ? undefined : BigInt(event.ts_nano);
    queue.afterStored(() => {
      if (state === undefined) publishedState.forget(id);
      else publishedState.record(id, state);
      if (nano !== undefined && nano > recordedThroughNano) {
        recordedThroughNano = nano;
        publishedState.recordCursor(nano.toString());
      }
    });
  };

  /** After a look's transitions and inventory are stored: every container's state. */
  const recordAfterResync = (lookStartedAtMs: number): void => {
    if (publishedState === undefined) return;
    const all = tracker.rememberedAll();
    const lookNano = msToNanos(lookStartedAtMs);
    queue.afterStored(() => {
      publishedState.recordAll(all);
      if (lookNano > recordedThroughNano) recordedThroughNano = lookNano;
      publishedState.recordCursor(recordedThroughNano.toString());
    });
  };

  /** Restores the tracker from what was recorded before a restart; the resume point for the events. */
  const recover = async (): Promise<ResumePoint | undefined> => {
    if (publishedState === undefined) return undefined;
    try {
      const { entries, cursor, cursorRecordedAtMs } = await publishedState.load();
      // Nothing recorded: the watcher's first start on this host, nothing to compare with.
      if (cursor === undefined || !/^\d{1,30}$/.test(cursor)) return undefined;
      const containers = new Map<string, RecoveredContainer>();
      for (const [id, entry] of entries) {
        containers.set(id, { container: entry.state, recordedAtMs: entry.recordedAtMs });
      }
      tracker.restore(containers, cursorRecordedAtMs ?? 0);
      recordedThroughNano = BigInt(cursor);
      logger.info(
        { containers: containers.size, recorded_through_nano: cursor },
        "resuming from what was published before the watcher stopped",
      );
      return recordedThroughNano > 0n ? { afterNano: recordedThroughNano } : undefined;
    } catch (error) {
      logger.warn(
        { err: error },
        "cannot read what was published before the watcher stopped; transitions missed meanwhile are not published",
      );
      return undefined;
    }
  };

  const resync = createResyncCoordinator({
    observe: createContainerObserver({
      docker,
      logger,
      concurrency: inspectConcurrency,
      timeoutMs: dockerTimeoutMs,
    }),
    tracker,
    publish,
    inventory,
    host,
    logger,
    onQueued: recordAfterResync,
  });
  const events = createDockerEventFollower({
    docker,
    publish,
    host,
    logger,
    onSubscribed: resync,
    enrich: createEventEnricher({ docker, logger, timeoutMs: dockerTimeoutMs }),
    onEvent: (event) => tracker.observeEvent(event, Date.now()),
    onHandled: recordAfterEvent,
    replayTimeoutMs: Math.max(dockerTimeoutMs, 10_000),
    ...(options.reconnect === undefined ? {} : { reconnect: options.reconnect }),
  });
  let starting: Promise<void> | undefined;
  let stopped = false;
  return {
    start() {
      starting ??= recover().then((resume) => {
        if (stopped) return;
        events.start(resume);
        inventory.start();
      });
    },
    async stop() {
      stopped = true;
      await starting;
      await events.stop();
      await inventory.stop();
      await queue.stop(options.publishStopTimeoutMs ?? DEFAULT_PUBLISH_STOP_TIMEOUT_MS);
      await publishedState?.close(options.stateCloseTimeoutMs ?? 3000);
    },
    isConnected: () => events.isStreamOpen(),
  };
}
