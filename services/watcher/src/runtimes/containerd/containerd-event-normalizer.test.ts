import type { ContainerdEvent } from "@crowsnest/shared/containerd";
import { describe, expect, it } from "vitest";
import { type ContainerdNormalizeContext, normalizeContainerdEvent } from "./containerd-event-normalizer.ts";

const AT = { seconds: 1796491866, nanos: 306742281 };
const AT_NANO = "1796491866306742281";

function context(overrides: Partial<ContainerdNormalizeContext> = {}): ContainerdNormalizeContext {
  return {
    host: "edge-3",
    identity: (_namespace, id) =>
      id === "web-1"
        ? { name: "web", image: "docker.io/library/nginx:1.27", labels: { "nerdctl/name": "web" } }
        : undefined,
    wasOomKilled: () => false,
    ...overrides,
  };
}

function event(topic: string, payload: Record<string, unknown>, namespace = "default"): ContainerdEvent {
  return { namespace, topic, timestamp: AT, type: `containerd.events.${topic}`, payload };
}

describe("normalizeContainerdEvent", () => {
  it("turns a task's start into Docker's start, named and labelled as the container", () => {
    const result = normalizeContainerdEvent(
      event("/tasks/start", { container_id: "web-1", pid: 4242 }),
      context(),
    );
    expect(result).toEqual({
      kind: "event",
      event: {
        v: 1,
        event_id: `edge-3/containerd/${AT_NANO}/web-1/start`,
        host: "edge-3",
        runtime: "containerd",
        kind: "container",
        action: "start",
        actor: { external_id: "web-1", name: "web" },
        ts: "2026-12-05T17:31:06.306Z",
        ts_nano: AT_NANO,
        image: "docker.io/library/nginx:1.27",
        exit_code: null,
        oom_killed: null,
        signal: null,
        health_status: null,
        synthesized: false,
        attributes: { "nerdctl/name": "web", image: "docker.io/library/nginx:1.27", name: "web" },
      },
    });
  });

  it("takes a die's time and code from the exit, and calls a 137 after an oom an OOM death", () => {
    const exit = event("/tasks/exit", {
      container_id: "web-1",
      id: "web-1",
      pid: 4242,
      exit_status: 137,
      exited_at: { seconds: 1796491867, nanos: 5 },
    });
    const plain = normalizeContainerdEvent(exit, context());
    expect(plain.kind === "event" && plain.event).toMatchObject({
      action: "die",
      exit_code: 137,
      oom_killed: false,
      ts_nano: "1796491867000000005",
      attributes: { exitCode: "137" },
    });
    const oom = normalizeContainerdEvent(exit, context({ wasOomKilled: (id) => id === "web-1" }));
    expect(oom.kind === "event" && oom.event.oom_killed).toBe(true);
  });

  it("skips an exec's exit, task create and delete, and topics it does not publish", () => {
    const ctx = context();
    expect(
      normalizeContainerdEvent(
        event("/tasks/exit", { container_id: "web-1", id: "exec-7", exit_status: 0 }),
        ctx,
      ),
    ).toEqual({ kind: "skipped" });
    expect(normalizeContainerdEvent(event("/tasks/create", { container_id: "web-1" }), ctx)).toEqual({
      kind: "skipped",
    });
    expect(normalizeContainerdEvent(event("/tasks/delete", { container_id: "web-1" }), ctx)).toEqual({
      kind: "skipped",
    });
    expect(normalizeContainerdEvent(event("/images/create", { name: "x" }), ctx)).toEqual({
      kind: "skipped",
    });
  });

  it("names containers outside the default namespace namespace/id, and unknown ones by their id", () => {
    const result = normalizeContainerdEvent(
      event("/tasks/paused", { container_id: "job" }, "builds"),
      context(),
    );
    expect(result.kind === "event" && result.event.actor).toEqual({ external_id: "builds/job", name: "job" });
    expect(result.kind === "event" && result.event.action).toBe("pause");
  });

  it("makes a rename of an update that changes nerdctl's name, and skips any other update", () => {
    const renamed = normalizeContainerdEvent(
      event("/containers/update", { id: "web-1", image: "", labels: { "nerdctl/name": "frontend" } }),
      context(),
    );
    expect(renamed.kind === "event" && renamed.event).toMatchObject({
      action: "rename",
      actor: { external_id: "web-1", name: "frontend" },
      attributes: { oldName: "/web", name: "frontend" },
    });
    expect(
      normalizeContainerdEvent(
        event("/containers/update", { id: "web-1", labels: { "nerdctl/name": "web", tier: "2" } }),
        context(),
      ),
    ).toEqual({ kind: "skipped" });
  });

  it("refuses an event without a container id, a payload or a usable time", () => {
    const ctx = context();
    expect(normalizeContainerdEvent(event("/tasks/start", { container_id: "" }), ctx).kind).toBe("invalid");
    expect(normalizeContainerdEvent({ ...event("/tasks/start", {}), payload: undefined }, ctx).kind).toBe(
      "invalid",
    );
    expect(
      normalizeContainerdEvent(
        { ...event("/tasks/oom", { container_id: "web-1" }), timestamp: undefined },
        ctx,
      ).kind,
    ).toBe("invalid");
  });
});
