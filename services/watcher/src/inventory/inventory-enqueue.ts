// One inventory snapshot onto the ordered publish queue, whatever the runtime: split to fit
// the server's max payload, encoded and validated, each part with its own message id so a
// republished part is stored once.
import { randomUUID } from "node:crypto";
import {
  type ContainerInfo,
  checkedEncoders,
  type InventoryMessage,
  type Logger,
  type Runtime,
  type Subjects,
} from "@crowsnest/shared/agent";
import type { PublishQueue } from "@crowsnest/shared/publishing";
import { splitInventory } from "./inventory-splitter.ts";

// Room for the Nats-Msg-Id header, which counts against max_payload too.
const HEADER_ALLOWANCE_BYTES = 1024;

export interface InventoryTarget {
  queue: Pick<PublishQueue, "enqueue">;
  subjects: Subjects;
  host: string;
  runtime: Runtime;
  logger: Logger;
  /** The server's current max payload (it can change on reconnect to another server). */
  maxPayloadBytes: () => number;
}

export function enqueueInventory(
  target: InventoryTarget,
  reason: InventoryMessage["reason"],
  containers: readonly ContainerInfo[],
): void {
  const { logger } = target;
  const header = {
    v: 1 as const,
    host: target.host,
    runtime: target.runtime,
    ts: new Date().toISOString(),
    reason,
    snapshot_id: randomUUID(),
  };
  const subject = target.subjects.inventory(target.host, target.runtime);
  const maxBytes = target.maxPayloadBytes() - HEADER_ALLOWANCE_BYTES;
  const { messages, oversized } = splitInventory(header, containers, maxBytes);
  for (const container of oversized) {
    logger.error(
      { container: container.external_id, max_bytes: maxBytes },
      "container description exceeds the max payload; left out of the inventory",
    );
  }
  for (const message of messages) {
    const encoded = checkedEncoders.inventory.encode(message);
    if (!encoded.ok) {
      logger.error(
        { detail: encoded.detail, snapshot_id: header.snapshot_id },
        "inventory failed validation",
      );
      return;
    }
    target.queue.enqueue({ subject, payload: encoded.data, msgID: `${header.snapshot_id}/${message.part}` });
  }
  logger.debug(
    { reason, containers: containers.length, parts: messages.length, snapshot_id: header.snapshot_id },
    "inventory queued",
  );
}
