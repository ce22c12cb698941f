// Splits one inventory snapshot into as few messages as fit the server's max payload: a
// host with thousands of labelled containers does not fit one NATS message.
import type { ContainerInfo, InventoryMessage } from "@crowsnest/shared/agent";

export type InventoryHeader = Omit<InventoryMessage, "part" | "parts" | "containers">;

export interface SplitInventory {
  readonly messages: InventoryMessage[];
  /** Containers that do not fit a message even alone; left out rather than failing the snapshot. */
  readonly oversized: ContainerInfo[];
}

const utf8 = new TextEncoder();
const byteLength = (value: unknown): number => utf8.encode(JSON.stringify(value)).length;

// The widest part numbers a snapshot can have, so the envelope is never underestimated.
const WIDEST_PART_NUMBER = 9_999_999;

/**
 * The encoded size of a message is exactly its envelope with an empty container list plus
 * each container's JSON and the commas between them, so parts are packed by arithmetic
 * instead of by re-encoding.
 */
export function splitInventory(
  header: InventoryHeader,
  containers: readonly ContainerInfo[],
  maxBytes: number,
): SplitInventory {
  const envelopeBytes = byteLength({
    ...header,
    part: WIDEST_PART_NUMBER,
    parts: WIDEST_PART_NUMBER,
    containers: [],
  });
  const groups: ContainerInfo[][] = [];
  const oversized: ContainerInfo[] = [];
  let current: ContainerInfo[] = [];
  let currentBytes = envelopeBytes;
  for (const container of containers) {
    const size = byteLength(container);
    if (envelopeBytes + size > maxBytes) {
      oversized.push(container);
      continue;
    }
    const separator = current.length > 0 ? 1 : 0;
    if (currentBytes + separator + size > maxBytes) {
      groups.push(current);
      current = [];
      currentBytes = envelopeBytes;
    }
    currentBytes += (current.length > 0 ? 1 : 0) + size;
    current.push(container);
  }
  // A host without containers still gets its (empty) inventory.
  if (current.length > 0 || groups.length === 0) groups.push(current);
  const parts = groups.length;
  return {
    messages: groups.map((group, index) => ({ ...header, part: index + 1, parts, containers: group })),
    oversized,
  };
}
