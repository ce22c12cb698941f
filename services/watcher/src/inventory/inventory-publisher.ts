// Publishes the host's full container inventory: at start, after every reconnect of the
// event stream, and periodically, so a consumer can always reconcile what it missed. The
// startup and resync inventories are handed in by the resynchronization, which has just
// looked at every container; the periodic ones are observed here.
import { randomUUID } from "node:crypto";
import {
  type ContainerInfo,
  codecs,
  type InventoryMessage,
  type Logger,
  type Subjects,
} from "@crowsnest/shared";
import type { PublishQueue } from "../publishing/publish-queue.ts";
import {
  type ContainerObserver,
  type ContainerObserverOptions,
  createContainerObserver,
} from "./container-observer.ts";
import { splitInventory } from "./inventory-splitter.ts";

export type InventoryReason = InventoryMessage["reason"];

export interface InventoryPublisherOptions {
  /** Without inspectContainer, containers are described from the list alone. */
  docker: ContainerObserverOptions["docker"];
  /** Inspect calls in flight at once while observing (default 8). */
  inspectConcurrency?: number;
  /** Deadline of each Docker call (default 5 s). */
  dockerTimeoutMs?: number;
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

// Room for the Nats-Msg-Id header, which counts against max_payload too.
const HEADER_ALLOWANCE_BYTES = 1024;

export function createInventoryPublisher(options: InventoryPublisherOptions): InventoryPublisher {
  const { queue, subjects, host, logger } = options;
  const observe = createContainerObserver({
    docker: options.docker,
    logger,
    concurrency: options.inspectConcurrency ?? 8,
    timeoutMs: options.dockerTimeoutMs ?? 5000,
  });
  const subject = subjects.inventory(host, "docker");
  let timer: NodeJS.Timeout | undefined;
  // Snapshots run one after another; a periodic one is skipped while another is running or waiting.
  let tail: Promise<void> = Promise.resolve();
  let busy = 0;
  let listFailing = false;

  const enqueueSnapshot = (reason: InventoryReason, containers: readonly ContainerInfo[]): void => {
    const header = {
      v: 1 as const,
      host,
      runtime: "docker" as const,
      ts: new Date().toISOString(),
      reason,
      snapshot_id: randomUUID(),
    };
    const maxBytes = options.maxPayloadBytes() - HEADER_ALLOWANCE_BYTES;
    const { messages, oversized } = splitInventory(header, containers, maxBytes);
    for (const container of oversized) {
      logger.error(
        { container: container.external_id, max_bytes: maxBytes },
        "container description exceeds the max payload; left out of the inventory",
      );
    }
    for (const message of messages) {
      const encoded = codecs.inventory.encode(message);
      if (!encoded.ok) {
        logger.error(
          { detail: encoded.detail, snapshot_id: header.snapshot_id },
          "inventory failed validation",
        );
        return;
      }
      queue.enqueue({ subject, data: encoded.data, msgID: `${header.snapshot_id}/${message.part}` });
    }
    logger.debug(
      { reason, containers: containers.length, parts: messages.length, snapshot_id: header.snapshot_id },
      "inventory queued",
    );
  };

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
