import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { resolveRuntimeHostName } from "./runtime-host-name.ts";

const logger = pino({ level: "silent" });

describe("resolveRuntimeHostName", () => {
  it("uses the configured name without asking the runtime", async () => {
    const name = await resolveRuntimeHostName({
      configured: "node-7",
      askRuntime: () => Promise.reject(new Error("must not be asked")),
      logger,
    });
    expect(name).toBe("node-7");
  });

  it("asks the runtime when none is configured, and waits until it answers with a name", async () => {
    const answers: (() => Promise<string | undefined>)[] = [
      () => Promise.reject(new Error("connect ENOENT /var/run/docker.sock")),
      () => Promise.resolve("  "),
      () => Promise.resolve("docker-host-1"),
    ];
    let asked = 0;
    const name = await resolveRuntimeHostName({
      configured: undefined,
      askRuntime: () => {
        const answer = answers[asked++];
        if (!answer) throw new Error("asked too often");
        return answer();
      },
      logger,
    });
    expect(name).toBe("docker-host-1");
    expect(asked).toBe(3);
  });
});
