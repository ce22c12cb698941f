// Publishes a Kubernetes host's inventory (one entry per container of each pod) from the pod
// informer's cache: after every list (startup, re-list) and periodically. Splitting, encoding
// and publishing are the Docker inventory's (enqueueInventory and the ordered publish queue);
// only the source differs, and there is nothing to observe: the cache is current.
import type { ContainerInfo, InventoryMessage, Logger, Subjects } from "@crowsnest/shared/agent";
import type { PublishQueue } from "@crowsnest/shared/publishing";
import { enqueueInventory } from "../../inventory/inventory-enqueue.ts";

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
  let timer: NodeJS.Timeout | undefined;

  const publish = (reason: InventoryMessage["reason"]): void => {
    const containers = options.containers();
    if (containers === undefined) {
      logger.debug({ reason }, "pods not listed yet; inventory skipped");
      return;
    }
    enqueueInventory(
      { queue, subjects, host, runtime: "kubernetes", logger, maxPayloadBytes: options.maxPayloadBytes },
      reason,
      containers,
    );
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
