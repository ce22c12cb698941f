import { describe, expect, it } from "vitest";
import { createLogger } from "../log/logger.ts";
import { ServiceLifecycle } from "./service-lifecycle.ts";

describe("ServiceLifecycle", () => {
  it("releases resources newest first, and keeps going past a failing one", async () => {
    const lifecycle = new ServiceLifecycle("test");
    lifecycle.configure({
      logger: createLogger({ service: "test", level: "silent" }),
      shutdownTimeoutMs: 1000,
    });
    const released: string[] = [];
    lifecycle.defer("database", () => void released.push("database"));
    lifecycle.defer("bus", async () => {
      released.push("bus");
      throw new Error("drain failed");
    });
    lifecycle.defer("runtime", async () => void released.push("runtime"));

    expect(await lifecycle.releaseAll()).toBe(false);
    expect(released).toEqual(["runtime", "bus", "database"]);
    // Each cleanup runs once.
    expect(await lifecycle.releaseAll()).toBe(true);
    expect(released).toHaveLength(3);
  });
});
