// The runtime-neutral watcher of a runtime that has an event stream and a container list
// (Docker, containerd): publishes the lifecycle events the runtime yields (the real ones, and
// after a reconnect or a restart the ones the tracker can tell were missed) and inventories
// through one ordered publish queue, and records on the bus what it published, to resume from
// after a restart. A runtime brings a RuntimeEventSource and a ContainerObserver
// (runtime-event-source.ts); everything else is here.
import type { EventMessage, Logger, Runtime, Subjects } from "@crowsnest/shared/agent";
import type { JetStreamPublisher } from "@crowsnest/shared/publishing";
import { createInventoryPublisher } from "../inventory/inventory-publisher.ts";
import { createEventPublisher } from "../publishing/event-publisher.ts";
import { createWatcherQueue, DEFAULT_PUBLISH_STOP_TIMEOUT_MS } from "../publishing/watcher-queue.ts";
import type { PublishedStateStore } from "../recovery/published-state-store.ts";
import {
  ContainerStateTracker,
  type RecoveredContainer,
  type RememberedContainer,
} from "../resync/container-state-tracker.ts";
import { createResyncCoordinator } from "../resync/resync-coordinator.ts";
import type { RuntimeWatcher } from "../runtimes/watcher-runtime.ts";
import { msToNanos } from "../time/nano-time.ts";
import type { ContainerObserver, ResumePoint, RuntimeEventSource } from "./runtime-event-source.ts";

export interface EventStreamWatcherOptions {
  runtime: Runtime;
  /** The runtime's events, followed with reconnects. */
  source: RuntimeEventSource;
  /** Looks at every container: at each subscription, and for the periodic inventory. */
  observe: ContainerObserver;
  js: JetStreamPublisher;
  subjects: Subjects;
  /** The host token of every subject and event id. */
  host: string;
  logger: Logger;
  inventoryIntervalMs: number;
  /** The NATS server's max payload, read when each inventory is split. */
  maxPayloadBytes: () => number;
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

export function createEventStreamWatcher(options: EventStreamWatcherOptions): RuntimeWatcher {
  const { runtime, source, observe, subjects, host, logger } = options;
  const queue = createWatcherQueue(options.js, logger);
  const publish = createEventPublisher({ queue, subjects, logger });
  const inventory = createInventoryPublisher({
    observe,
    runtime,
    queue,
    subjects,
    host,
    logger,
    intervalMs: options.inventoryIntervalMs,
    maxPayloadBytes: options.maxPayloadBytes,
  });
  const tracker = new ContainerStateTracker({ runtime });
  const { publishedState } = options;
  /**
   * The recorded state reflects everything the runtime did up to this time (its nanoseconds):
   * the newest event published, or the start of the newest look at every container (the
   * watcher and the runtime share the host's clock). A replay after a restart skips what is not later.
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
    observe,
    tracker,
    publish,
    inventory,
    host,
    logger,
    onQueued: recordAfterResync,
  });
  let starting: Promise<void> | undefined;
  let stopped = false;
  return {
    start() {
      starting ??= recover().then((resume) => {
        if (stopped) return;
        source.start(
          {
            subscribed: resync,
            event(event) {
              if (!tracker.observeEvent(event, Date.now())) {
                logger.debug({ event_id: event.event_id }, "event already published as synthesized");
                recordAfterEvent(event);
              } else if (publish(event)) {
                recordAfterEvent(event);
              }
            },
            repeated: recordAfterEvent,
          },
          resume,
        );
        inventory.start();
      });
    },
    async stop() {
      stopped = true;
      await starting;
      await source.stop();
      await inventory.stop();
      await queue.stop(options.publishStopTimeoutMs ?? DEFAULT_PUBLISH_STOP_TIMEOUT_MS);
      await publishedState?.close(options.stateCloseTimeoutMs ?? 3000);
    },
    isConnected: () => source.isConnected(),
  };
}
