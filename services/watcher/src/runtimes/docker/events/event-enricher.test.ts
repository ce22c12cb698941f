import { createLogger, type EventMessage } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { createEventEnricher } from "./event-enricher.ts";

const logger = createLogger({ service: "watcher", level: "silent" });
const DIE_NANO = 1_795_294_273_500_000_000n;

function event(action: string, extra: Partial<EventMessage> = {}): EventMessage {
  return {
    v: 1,
    event_id: `h/docker/${DIE_NANO}/c1/${action}`,
    host: "h",
    runtime: "docker",
    kind: "container",
    action,
    actor: { external_id: "c1", name: "web" },
    ts: "2026-11-21T20:51:13.500Z",
    ts_nano: DIE_NANO.toString(),
    image: "busybox",
    exit_code: action === "die" ? 137 : null,
    oom_killed: action === "die" ? false : null,
    signal: null,
    health_status: action === "health_status" ? "unhealthy" : null,
    synthesized: false,
    attributes: { name: "web" },
    ...extra,
  };
}

function inspectAnswer(state: object) {
  return { Id: "c1", State: { StartedAt: "2026-11-21T20:51:00Z", ...state } };
}

describe("createEventEnricher", () => {
  it("marks a die as an OOM kill when inspect says OOMKilled, even without an oom event", async () => {
    const enrich = createEventEnricher({
      docker: { inspectContainer: async () => inspectAnswer({ Status: "exited", OOMKilled: true }) },
      logger,
      timeoutMs: 100,
    });
    expect((await enrich(event("die"))).oom_killed).toBe(true);
  });

  it("does not take OOMKilled from a later run that a restart policy already started", async () => {
    const enrich = createEventEnricher({
      docker: {
        inspectContainer: async () =>
          inspectAnswer({ Status: "running", OOMKilled: true, StartedAt: "2026-11-21T20:51:14Z" }),
      },
      logger,
      timeoutMs: 100,
    });
    expect((await enrich(event("die"))).oom_killed).toBe(false);
  });

  it("publishes the event as it is when inspect fails or takes too long", async () => {
    for (const inspectContainer of [
      () => Promise.reject(new Error("connect ECONNREFUSED")),
      () => new Promise<unknown>(() => undefined),
    ]) {
      const enrich = createEventEnricher({ docker: { inspectContainer }, logger, timeoutMs: 50 });
      const original = event("die");
      expect(await enrich(original)).toEqual(original);
    }
  });

  it("adds the failing streak and the newest probe's output to a health_status event", async () => {
    const enrich = createEventEnricher({
      docker: {
        inspectContainer: async () =>
          inspectAnswer({
            Status: "running",
            Health: {
              Status: "unhealthy",
              FailingStreak: 2,
              Log: [{ Output: "a" }, { Output: "refused\n" }],
            },
          }),
      },
      logger,
      timeoutMs: 100,
    });
    expect((await enrich(event("health_status"))).attributes).toEqual({
      name: "web",
      health_failing_streak: "2",
      health_output: "refused\n",
    });
  });

  it("leaves other actions alone without asking dockerd", async () => {
    const enrich = createEventEnricher({
      docker: { inspectContainer: () => Promise.reject(new Error("must not be called")) },
      logger,
      timeoutMs: 100,
    });
    const start = event("start");
    expect(await enrich(start)).toBe(start);
  });
});
