// Publishes a Kubernetes host's inventory (one entry per container of each pod) from the pod
// informer's cache: after every list (startup, re-list) and periodically. Splitting, encoding
// and publishing are the Docker inventory's (the splitter and the ordered publish queue);
// only the source differs, and there is nothing to observe: the cache is current.
import { randomUUID } from "node:crypto";
import {
  type ContainerInfo,
  codecs,
  type InventoryMessage,
  type Logger,
  type Subjects,
} from "@crowsnest/shared";
import { splitInventory } from "../inventory/inventory-splitter.ts";
import type { PublishQueue } from "../publishing/publish-queue.ts";

// Room for the Nats-Msg-Id header, which counts against max_payload too.
const HEADER_ALLOWANCE_BYTES = 1024;

export interface KubeInventoryPublisherOptions {
  queue: Pick<PublishQueue, "enqueue">;
  subjects: Subjects;
  host: string;
  logger: Logger;
  intervalMs: number;
  maxPayloadBytes: () => number;
  /** Every container now, or undefined while the pods have not been listed yet. */
  containers: () => readonly ContainerInfo[] | undefined;
}

export interface KubeInventoryPublisher {
  start(): void;
  stop(): void;
  publish(reason: InventoryMessage["reason"]): void;
}

export function createKubeInventoryPublisher(options: KubeInventoryPublisherOptions): KubeInventoryPublisher {
  const { queue, subjects, host, logger } = options;
  const subject = subjects.inventory(host, "kubernetes");
  let timer: NodeJS.Timeout | undefined;

  const publish = (reason: InventoryMessage["reason"]): void => {
    const containers = options.containers();
    if (containers === undefined) {
      logger.debug({ reason }, "pods not listed yet; inventory skipped");
      return;
    }
    const header = {
      v: 1 as const,
      host,
      runtime: "kubernetes" as const,
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
    logger.debug({ reason, containers: containers.length, parts: messages.length }, "inventory queued");
  };

  return {
    start() {
      timer ??= setInterval(() => publish("periodic"), options.intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
    publish,
  };
}
