import { codecs, createLogger, createSubjects, type InventoryMessage } from "@crowsnest/shared";
import type { OutgoingMessage } from "@crowsnest/shared/publishing";
import { describe, expect, it } from "vitest";
import { createContainerObserver } from "../runtimes/docker/container-observer.ts";
import type { ListedContainer } from "../runtimes/docker/docker-api.ts";
import { createInventoryPublisher } from "./inventory-publisher.ts";

const logger = createLogger({ service: "watcher", level: "silent" });
const subjects = createSubjects("t-inventory");

function listed(count: number): ListedContainer[] {
  return Array.from({ length: count }, (_, i) => ({
    Id: `c${i}`.padEnd(64, "0"),
    Names: [`/app-${i}`],
    Image: "nginx:1.27",
    State: "running",
    Created: 1795294273,
    Labels: { note: "x".repeat(300) },
  }));
}

function setup(docker: { listContainers: () => Promise<ListedContainer[]> }, maxPayloadBytes = 1024 * 1024) {
  const queued: OutgoingMessage[] = [];
  const publisher = createInventoryPublisher({
    observe: createContainerObserver({ docker, logger, concurrency: 8, timeoutMs: 5000 }),
    runtime: "docker",
    queue: { enqueue: (message) => void queued.push(message) },
    subjects,
    host: "edge-7",
    logger,
    intervalMs: 60_000,
    maxPayloadBytes: () => maxPayloadBytes,
  });
  const decoded = (): InventoryMessage[] =>
    queued.map((message) => {
      const result = codecs.inventory.decode(message.payload);
      if (!result.ok) throw new Error(result.detail);
      return result.value;
    });
  return { publisher, queued, decoded };
}

describe("createInventoryPublisher", () => {
  it("queues one snapshot in parts that fit the server's max payload, each with its own message id", async () => {
    const { publisher, queued, decoded } = setup({ listContainers: async () => listed(40) }, 8 * 1024);
    await publisher.publishSnapshot("startup");
    const parts = decoded();
    expect(parts.length).toBeGreaterThan(1);
    const snapshotId = parts[0]?.snapshot_id;
    expect(parts.every((part) => part.snapshot_id === snapshotId && part.reason === "startup")).toBe(true);
    expect(parts.map((part) => part.part)).toEqual(parts.map((_, index) => index + 1));
    expect(parts.flatMap((part) => part.containers)).toHaveLength(40);
    expect(queued.every((message) => message.payload.length <= 8 * 1024)).toBe(true);
    expect(queued[0]?.subject).toBe(subjects.inventory("edge-7", "docker"));
    expect(new Set(queued.map((message) => message.msgID)).size).toBe(queued.length);
  });

  it("skips a periodic snapshot while another is running, but never a resync", async () => {
    let release = (): void => undefined;
    let calls = 0;
    const { publisher, decoded } = setup({
      listContainers: async () => {
        calls += 1;
        if (calls === 1) await new Promise<void>((resolve) => (release = resolve));
        return listed(1);
      },
    });
    const first = publisher.publishSnapshot("periodic");
    const skipped = publisher.publishSnapshot("periodic");
    const resync = publisher.publishSnapshot("resync");
    while (calls === 0) await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all([first, skipped, resync]);
    expect(decoded().map((message) => message.reason)).toEqual(["periodic", "resync"]);
  });

  it("survives dockerd being away and publishes again once it is back", async () => {
    let up = false;
    const { publisher, decoded } = setup({
      listContainers: async () => {
        if (!up) throw new Error("connect ENOENT /var/run/docker.sock");
        return listed(2);
      },
    });
    await publisher.publishSnapshot("periodic");
    await publisher.publishSnapshot("periodic");
    up = true;
    await publisher.publishSnapshot("periodic");
    expect(decoded()).toHaveLength(1);
    await publisher.stop();
  });
});
