import { codecs, type EventMessage } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { OomMemory } from "../../../following/oom-memory.ts";
import { type NormalizeResult, normalizeDockerEvent, splitDockerAction } from "./docker-event-normalizer.ts";
import { parseDockerEventLine } from "./docker-event-parser.ts";

const ID = "97903311a7431334338b3df34b58c590284497a3b029e3064a8f4dfc102489b8";
const HOST = "web-host-1";

/** A line as dockerd 20.10 writes it on /events. */
function dockerLine(
  action: string,
  attributes: Record<string, string>,
  timeNano = "1795294273697894780",
): string {
  const time = timeNano.slice(0, 10);
  return `{"status":${JSON.stringify(action)},"id":"${ID}","from":"crowsnest-test/busybox:1","Type":"container","Action":${JSON.stringify(action)},"Actor":{"ID":"${ID}","Attributes":${JSON.stringify(attributes)}},"scope":"local","time":${time},"timeNano":${timeNano}}`;
}

const baseAttributes = { image: "crowsnest-test/busybox:1", name: "evt-probe", "com.example.team": "core" };

function normalizeLine(line: string, oom = new OomMemory()): NormalizeResult {
  const parsed = parseDockerEventLine(line);
  if (!parsed.ok) throw new Error(parsed.detail);
  const result = normalizeDockerEvent(parsed.event, {
    host: HOST,
    wasOomKilled: (id, timeNano) => oom.wasOomKilled(id, timeNano),
  });
  if (result.kind === "event") {
    oom.observe(result.event.action, result.event.actor.external_id, BigInt(result.event.ts_nano ?? "0"));
  }
  return result;
}

function eventOf(result: NormalizeResult): EventMessage {
  if (result.kind !== "event") throw new Error(`expected an event, got ${JSON.stringify(result)}`);
  // Whatever the normalizer produces must pass the bus contract.
  const encoded = codecs.event.encode(result.event);
  if (!encoded.ok) throw new Error(encoded.detail);
  return result.event;
}

describe("normalizeDockerEvent", () => {
  it("normalizes a start with the runtime's nanosecond time, exactly", () => {
    const event = eventOf(normalizeLine(dockerLine("start", baseAttributes, "1795294273667975637")));
    expect(event).toEqual({
      v: 1,
      event_id: `${HOST}/docker/1795294273667975637/${ID}/start`,
      host: HOST,
      runtime: "docker",
      kind: "container",
      action: "start",
      actor: { external_id: ID, name: "evt-probe" },
      ts: "2026-11-21T20:51:13.667Z",
      ts_nano: "1795294273667975637",
      image: "crowsnest-test/busybox:1",
      exit_code: null,
      oom_killed: null,
      signal: null,
      health_status: null,
      synthesized: false,
      attributes: baseAttributes,
    } satisfies EventMessage);
  });

  it("takes a die's exit code from the exitCode attribute", () => {
    const event = eventOf(normalizeLine(dockerLine("die", { ...baseAttributes, exitCode: "3" })));
    expect(event).toMatchObject({ action: "die", exit_code: 3, oom_killed: false });
    expect(event.attributes.exitCode).toBe("3");
  });

  it("marks a die 137 right after an oom of the same container as an OOM kill", () => {
    const oom = new OomMemory();
    const oomEvent = eventOf(normalizeLine(dockerLine("oom", baseAttributes, "1795294273600000000"), oom));
    expect(oomEvent).toMatchObject({ action: "oom", exit_code: null, oom_killed: null });
    const die = eventOf(
      normalizeLine(dockerLine("die", { ...baseAttributes, exitCode: "137" }, "1795294273650000000"), oom),
    );
    expect(die).toMatchObject({ action: "die", exit_code: 137, oom_killed: true });
    // The next run's exit has nothing to do with that oom.
    eventOf(normalizeLine(dockerLine("start", baseAttributes, "1795294280000000000"), oom));
    const later = eventOf(
      normalizeLine(dockerLine("die", { ...baseAttributes, exitCode: "137" }, "1795294281000000000"), oom),
    );
    expect(later.oom_killed).toBe(false);
  });

  it("does not call a die an OOM kill when the oom was long before it", () => {
    const oom = new OomMemory();
    normalizeLine(dockerLine("oom", baseAttributes, "1795294000000000000"), oom);
    const die = eventOf(
      normalizeLine(dockerLine("die", { ...baseAttributes, exitCode: "1" }, "1795294273650000000"), oom),
    );
    expect(die.oom_killed).toBe(false);
  });

  it("keeps a kill's signal", () => {
    const event = eventOf(normalizeLine(dockerLine("kill", { ...baseAttributes, signal: "15" })));
    expect(event).toMatchObject({ action: "kill", signal: "15", exit_code: null, oom_killed: null });
  });

  it("turns `health_status: healthy` into action health_status with the status", () => {
    const event = eventOf(normalizeLine(dockerLine("health_status: healthy", baseAttributes)));
    expect(event.action).toBe("health_status");
    expect(event.health_status).toBe("healthy");
    expect(event.event_id).toBe(`${HOST}/docker/1795294273697894780/${ID}/health_status`);
  });

  it("leaves the status null for a health status it does not know", () => {
    const event = eventOf(normalizeLine(dockerLine("health_status: confused", baseAttributes)));
    expect(event).toMatchObject({ action: "health_status", health_status: null });
  });

  it.each(["create", "restart", "stop", "oom", "pause", "unpause", "destroy"])("publishes %s", (action) => {
    expect(eventOf(normalizeLine(dockerLine(action, baseAttributes))).action).toBe(action);
  });

  it("publishes a rename under the new name with the old one in the attributes", () => {
    const event = eventOf(
      normalizeLine(dockerLine("rename", { ...baseAttributes, name: "new", oldName: "/old" })),
    );
    expect(event.actor.name).toBe("new");
    expect(event.attributes.oldName).toBe("/old");
  });

  it.each(["exec_start: /bin/sh -c echo hi", "exec_create: /bin/sh", "exec_die", "attach", "resize", "top"])(
    "skips the noise action %s",
    (action) => {
      expect(normalizeLine(dockerLine(action, baseAttributes))).toEqual({
        kind: "skipped",
        reason: "not_a_lifecycle_action",
      });
    },
  );

  it("skips events that are not about containers", () => {
    const line =
      '{"Type":"network","Action":"connect","Actor":{"ID":"62f2","Attributes":{"container":"9790","name":"none"}},"scope":"local","time":1795294273,"timeNano":1795294273413073554}';
    expect(normalizeLine(line)).toEqual({ kind: "skipped", reason: "not_a_container" });
  });

  it("copes with missing attributes and a missing timeNano", () => {
    const line = `{"Type":"container","Action":"die","Actor":{"ID":"${ID}"},"time":1795294273}`;
    const event = eventOf(normalizeLine(line));
    expect(event).toMatchObject({
      actor: { external_id: ID, name: "" },
      image: null,
      exit_code: null,
      oom_killed: false,
      ts: "2026-11-21T20:51:13.000Z",
      ts_nano: "1795294273000000000",
      attributes: {},
    });
  });

  it("understands pre-1.22 events that have only status, id and from", () => {
    const line = `{"status":"start","id":"${ID}","from":"busybox","time":1795294273}`;
    expect(eventOf(normalizeLine(line))).toMatchObject({ action: "start", image: "busybox" });
  });

  it("rejects a lifecycle event without a container id or a time", () => {
    expect(normalizeLine('{"Type":"container","Action":"start","time":1795294273}').kind).toBe("invalid");
    expect(normalizeLine(`{"Type":"container","Action":"start","Actor":{"ID":"${ID}"}}`).kind).toBe(
      "invalid",
    );
  });
});

describe("splitDockerAction", () => {
  it("splits the detail off an action", () => {
    expect(splitDockerAction("health_status: unhealthy")).toEqual({
      action: "health_status",
      detail: "unhealthy",
    });
    expect(splitDockerAction("exec_start: sh -c a:b")).toEqual({ action: "exec_start", detail: "sh -c a:b" });
    expect(splitDockerAction("die")).toEqual({ action: "die", detail: undefined });
  });
});
