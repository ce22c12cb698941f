import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { NatsSetupError } from "../errors/crowsnest-error.ts";
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

  it("exits 1 with one fatal line when a dependency is lost for good while running", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const lifecycle = new ServiceLifecycle("test");
    lifecycle.configure({ logger: pino({ level: "info" }, sink), shutdownTimeoutMs: 1000 });
    const exited = new Promise<number | undefined>((resolve) => {
      vi.spyOn(process, "exit").mockImplementationOnce((code) => {
        resolve(code === undefined || code === null ? undefined : Number(code));
        return undefined as never;
      });
    });
    lifecycle.exitWhenLost("NATS connection", Promise.resolve(new Error("Authorization Violation")));

    expect(await exited).toBe(1);
    expect(lines).toHaveLength(1);
    const fatal = JSON.parse(lines[0] ?? "{}") as { level: number; msg: string; err?: { message: string } };
    expect(fatal.level).toBe(60);
    expect(fatal.msg).toBe("NATS connection closed for good; exiting so that test is restarted");
    expect(fatal.err?.message).toBe("Authorization Violation");
    vi.restoreAllMocks();
  });

  it("says a refusal as at start, with its code and what to fix, when NATS refuses it while running", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const lifecycle = new ServiceLifecycle("test");
    lifecycle.configure({ logger: pino({ level: "info" }, sink), shutdownTimeoutMs: 1000 });
    const exited = new Promise<number | undefined>((resolve) => {
      vi.spyOn(process, "exit").mockImplementationOnce((code) => {
        resolve(code === undefined || code === null ? undefined : Number(code));
        return undefined as never;
      });
    });
    const refusal = new NatsSetupError("nats_tls", "the NATS server's certificate is not signed by the CA");
    lifecycle.exitWhenLost("NATS connection", Promise.resolve(refusal));

    expect(await exited).toBe(1);
    expect(lines).toHaveLength(1);
    const fatal = JSON.parse(lines[0] ?? "{}") as {
      level: number;
      msg: string;
      code?: string;
      err?: unknown;
    };
    expect(fatal.level).toBe(60);
    expect(fatal.code).toBe("nats_tls");
    expect(fatal.msg).toBe(
      "NATS connection refused for good: the NATS server's certificate is not signed by the CA; exiting so that test is restarted",
    );
    // What to fix, not a stack.
    expect(fatal.err).toBeUndefined();
    vi.restoreAllMocks();
  });
});
