import { createLogger } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { createContainerObserver } from "./container-observer.ts";
import type { ListedContainer } from "./docker-api.ts";
import { DockerNotFoundError } from "./docker-errors.ts";

const logger = createLogger({ service: "watcher", level: "silent" });
const listed = (id: string): ListedContainer => ({
  Id: id,
  Names: [`/${id}`],
  Image: "busybox",
  State: "running",
});

describe("createContainerObserver", () => {
  it("inspects every listed container, leaves out one that vanished, and describes one it could not inspect from the list", async () => {
    const observe = createContainerObserver({
      docker: {
        listContainers: async () => [listed("ok"), listed("gone"), listed("slow")],
        async inspectContainer(ref) {
          if (ref === "gone") throw new DockerNotFoundError(ref);
          if (ref === "slow") return new Promise(() => undefined);
          return {
            Id: "ok",
            Name: "/ok",
            State: { Status: "running", Pid: 7, StartedAt: "2026-11-21T20:00:00Z" },
            Config: { Image: "busybox" },
            HostConfig: { Memory: 1024 },
          };
        },
      },
      logger,
      concurrency: 2,
      timeoutMs: 100,
    });
    const observed = await observe();
    expect(observed.map((entry) => entry.info.external_id)).toEqual(["ok", "slow"]);
    expect(observed[0]?.info).toMatchObject({
      pid: 7,
      started_at: "2026-11-21T20:00:00.000Z",
      limits: { mem_limit: 1024 },
    });
    expect(observed[1]).toMatchObject({
      inspected: undefined,
      info: { name: "slow", state: "running", pid: null },
    });
  });

  it("rejects when the list itself fails: nothing can be said about the host then", async () => {
    const observe = createContainerObserver({
      docker: { listContainers: () => Promise.reject(new Error("connect ENOENT")) },
      logger,
      concurrency: 1,
      timeoutMs: 100,
    });
    await expect(observe()).rejects.toThrow("connect ENOENT");
  });
});
