// Publishes the host's full container inventory: at start, after every reconnect of the
// event stream, and periodically, so a consumer can always reconcile what it missed. The
// startup and resync inventories are handed in by the resynchronization, which has just
// looked at every container; the periodic ones are observed here. For runtimes that follow an
// event stream (Docker, containerd); Kubernetes lists from its informer's cache.
import type { ContainerInfo, InventoryMessage, Logger, Runtime, Subjects } from "@crowsnest/shared/agent";
import type { PublishQueue } from "@crowsnest/shared/publishing";
import type { ContainerObserver } from "../following/runtime-event-source.ts";
import { enqueueInventory } from "./inventory-enqueue.ts";

export type InventoryReason = InventoryMessage["reason"];

export interface InventoryPublisherOptions {
  /** Looks at every container for a periodic snapshot. */
  observe: ContainerObserver;
  runtime: Runtime;
  queue: Pick<PublishQueue, "enqueue">;
  subjects: Subjects;
  host: string;
  logger: Logger;
  intervalMs: number;
  /** The server's current max payload (it can change on reconnect to another server). */
  maxPayloadBytes: () => number;
}

export interface InventoryPublisher {
  /** Starts the periodic snapshots. */
  start(): void;
  /** Stops them and waits for a snapshot in progress. */
  stop(): Promise<void>;
  /** Lists the containers and queues the snapshot; never throws (failures are logged). */
  publishSnapshot(reason: InventoryReason): Promise<void>;
  /** Queues a snapshot of containers observed by the caller. */
  publishContainers(reason: InventoryReason, containers: readonly ContainerInfo[]): void;
}

export function createInventoryPublisher(options: InventoryPublisherOptions): InventoryPublisher {
  const { queue, subjects, host, runtime, logger, observe } = options;
  let timer: NodeJS.Timeout | undefined;
  // Snapshots run one after another; a periodic one is skipped while another is running or waiting.
  let tail: Promise<void> = Promise.resolve();
  let busy = 0;
  let listFailing = false;

  const enqueueSnapshot = (reason: InventoryReason, containers: readonly ContainerInfo[]): void =>
    enqueueInventory(
      { queue, subjects, host, runtime, logger, maxPayloadBytes: options.maxPayloadBytes },
      reason,
      containers,
    );

  const snapshot = async (reason: InventoryReason): Promise<void> => {
    let observed: Awaited<ReturnType<ContainerObserver>>;
    try {
      observed = await observe();
    } catch (error) {
      if (!listFailing)
        logger.warn({ err: error, reason }, "cannot list containers; inventory not published");
      listFailing = true;
      return;
    }
    if (listFailing) logger.info({ reason }, "listing containers works again");
    listFailing = false;
    enqueueSnapshot(
      reason,
      observed.map((container) => container.info),
    );
  };

  const publishSnapshot = (reason: InventoryReason): Promise<void> => {
    if (reason === "periodic" && busy > 0) {
      logger.debug("previous inventory still in progress; periodic one skipped");
      return tail;
    }
    busy += 1;
    tail = tail
      .then(() => snapshot(reason))
      .catch((error: unknown) => logger.error({ err: error, reason }, "inventory snapshot failed"))
      .finally(() => {
        busy -= 1;
      });
    return tail;
  };

  return {
    start() {
      timer ??= setInterval(() => void publishSnapshot("periodic"), options.intervalMs);
      // The NATS connection keeps the process alive; this timer alone should not.
      timer.unref();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await tail;
    },
    publishSnapshot,
    publishContainers: enqueueSnapshot,
  };
}
