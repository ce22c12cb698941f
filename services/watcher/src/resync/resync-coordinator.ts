// What the core does once a runtime's event subscription is in place: look at every container, publish
// the transitions missed since the last look (at startup, since what the watcher recorded
// before it stopped, if the tracker was restored from it; else none: there is nothing to
// compare with), then the inventory. The runtime holds its new stream's events until this is done,
// so replayed events are applied before and the new stream's events after it.
import type { Logger } from "@crowsnest/shared/agent";
import { abortableSleep } from "@crowsnest/shared/util/abortable-sleep";
import type {
  ContainerObserver,
  ObservedContainer,
  SubscriptionReason,
} from "../following/runtime-event-source.ts";
import type { InventoryPublisher } from "../inventory/inventory-publisher.ts";
import type { EventPublisher } from "../publishing/event-publisher.ts";
import type { ContainerStateTracker } from "./container-state-tracker.ts";

export interface ResyncCoordinatorOptions {
  observe: ContainerObserver;
  tracker: ContainerStateTracker;
  publish: EventPublisher;
  inventory: Pick<InventoryPublisher, "publishContainers">;
  host: string;
  logger: Logger;
  /** Looks at the host this many times before giving up until the next reconnect. */
  attempts?: number;
  retryDelayMs?: number;
  now?: () => number;
  /**
   * Called once the transitions and the inventory of a look are queued (to record the state
   * after them), with when the look began (this clock, ms).
   */
  onQueued?: (lookStartedAtMs: number) => void;
}

export type ResyncCoordinator = (reason: SubscriptionReason, signal: AbortSignal) => Promise<void>;

export function createResyncCoordinator(options: ResyncCoordinatorOptions): ResyncCoordinator {
  const { observe, tracker, publish, inventory, host, logger } = options;
  const attempts = options.attempts ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const now = options.now ?? Date.now;

  return async (reason, signal) => {
    let observed: ObservedContainer[] | undefined;
    let lastError: unknown;
    let lookStartedAtMs = now();
    for (let attempt = 1; attempt <= attempts && !signal.aborted; attempt++) {
      try {
        lookStartedAtMs = now();
        observed = await observe();
        break;
      } catch (error) {
        lastError = error;
        if (attempt < attempts) await abortableSleep(retryDelayMs * attempt, signal);
      }
    }
    if (observed === undefined) {
      if (!signal.aborted) {
        logger.warn(
          { err: lastError, reason, attempts },
          "cannot list containers; missed transitions and the inventory wait for the next reconnect",
        );
      }
      return;
    }
    const restored = tracker.restored;
    const events = tracker.reconcile(
      observed.map((container) => container.snapshot),
      { host, nowMs: now() },
      { seed: reason === "startup" && !restored },
    );
    for (const event of events) publish(event);
    if (events.length > 0) {
      logger.info(
        { reason, synthesized: events.length, actions: events.map((event) => event.action) },
        reason === "startup"
          ? "published transitions missed while the watcher was not running"
          : "published transitions missed while the event stream was down",
      );
    }
    inventory.publishContainers(
      reason,
      observed.map((container) => container.info),
    );
    options.onQueued?.(lookStartedAtMs);
  };
}
