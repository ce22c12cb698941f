import type { EventMessage } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { eventFixture } from "../../../../test/support/bus-fixtures.ts";
import { missedTransitions } from "./missed-transitions.ts";

function event(key: string, action: string): EventMessage {
  return eventFixture({
    action,
    ts: "2026-12-04T10:00:00.000Z",
    event_id: `h/test/${key}/${action}`,
    actor: { external_id: key, name: key },
  });
}

/** A toy runtime: an object's state is "up" or "down". */
const diff = (key: string, known: string | undefined, current: string | undefined): EventMessage[] => {
  if (known === current) return [];
  if (current === undefined)
    return known === "up" ? [event(key, "die"), event(key, "destroy")] : [event(key, "destroy")];
  const created = known === undefined ? [event(key, "create")] : [];
  return [...created, event(key, current === "up" ? "start" : "die")];
};

describe("missedTransitions", () => {
  it("hands every object on either side to the differ once, present ones first, and marks the result synthesized", () => {
    const known = new Map([
      ["a", "up"],
      ["b", "up"],
      ["c", "down"],
    ]);
    const current = new Map([
      ["c", "up"],
      ["d", "up"],
      ["a", "up"],
    ]);
    const events = missedTransitions(known, current, diff);
    expect(events.map((e) => `${e.actor.external_id} ${e.action}`)).toEqual([
      "c start",
      "d create",
      "d start",
      "b die",
      "b destroy",
    ]);
    expect(events.every((e) => e.synthesized)).toBe(true);
  });

  it("yields nothing when nothing changed, and each id once", () => {
    const same = new Map([["a", "up"]]);
    expect(missedTransitions(same, new Map(same), diff)).toEqual([]);
    const twice = (key: string) => [event(key, "start"), event(key, "start")];
    expect(missedTransitions(new Map(), new Map([["a", "up"]]), twice)).toHaveLength(1);
  });
});
