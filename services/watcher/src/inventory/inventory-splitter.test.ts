import { type ContainerInfo, codecs } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { toContainerInfo } from "../runtimes/docker/docker-container-mapper.ts";
import { type InventoryHeader, splitInventory } from "./inventory-splitter.ts";

const header: InventoryHeader = {
  v: 1,
  host: "edge-7",
  runtime: "docker",
  ts: "2026-11-21T20:51:13.000Z",
  reason: "periodic",
  snapshot_id: "5b7f8a52-6f7e-4d43-9a53-0c7d0f4d2b11",
};

function containers(count: number, labelBytes = 200): ContainerInfo[] {
  return Array.from({ length: count }, (_, i) =>
    toContainerInfo({
      Id: `c${i}`.padEnd(64, "0"),
      Names: [`/app-${i}`],
      Image: "nginx:1.27",
      State: "running",
      Labels: { note: "x".repeat(labelBytes) },
    }),
  );
}

function encodedSize(message: Parameters<typeof codecs.inventory.encode>[0]): number {
  const encoded = codecs.inventory.encode(message);
  if (!encoded.ok) throw new Error(encoded.detail);
  return encoded.data.length;
}

describe("splitInventory", () => {
  it("keeps a small inventory in one part", () => {
    const { messages, oversized } = splitInventory(header, containers(3), 1024 * 1024);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ part: 1, parts: 1, snapshot_id: header.snapshot_id });
    expect(messages[0]?.containers).toHaveLength(3);
    expect(oversized).toEqual([]);
  });

  it("publishes an empty inventory for a host without containers", () => {
    const { messages } = splitInventory(header, [], 1024);
    expect(messages).toEqual([{ ...header, part: 1, parts: 1, containers: [] }]);
  });

  it("splits into numbered parts that each fit and together hold every container once, in order", () => {
    const all = containers(100);
    const maxBytes = 8 * 1024;
    const { messages, oversized } = splitInventory(header, all, maxBytes);
    expect(messages.length).toBeGreaterThan(1);
    expect(oversized).toEqual([]);
    for (const [index, message] of messages.entries()) {
      expect(message.part).toBe(index + 1);
      expect(message.parts).toBe(messages.length);
      expect(encodedSize(message)).toBeLessThanOrEqual(maxBytes);
    }
    expect(messages.flatMap((message) => message.containers.map((c) => c.external_id))).toEqual(
      all.map((c) => c.external_id),
    );
    // Packed, not one container per part.
    expect(messages[0]?.containers.length).toBeGreaterThan(10);
  });

  it("fills a part up to the exact limit", () => {
    const two = containers(2);
    const exact = encodedSize({ ...header, part: 1, parts: 1, containers: two }) + 12;
    // 12 bytes of slack is what the widest part numbers reserve.
    expect(splitInventory(header, two, exact).messages).toHaveLength(1);
    expect(splitInventory(header, two, exact - 1).messages).toHaveLength(2);
  });

  it("leaves out a container that cannot fit even alone, and keeps the rest", () => {
    const all = [...containers(2), ...containers(1, 50_000)];
    const { messages, oversized } = splitInventory(header, all, 10_000);
    expect(oversized).toHaveLength(1);
    expect(messages.flatMap((message) => message.containers)).toHaveLength(2);
  });
});
