import { createSubjects } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { subjectTail } from "./stats-decoding.ts";
import {
  eventSubjectGuard,
  hostStatsSubjectGuard,
  inventorySubjectGuard,
  statsSubjectGuard,
} from "./subject-guard.ts";

const subjects = createSubjects("crowsnest");

describe("subject guards", () => {
  it("accepts a sample on its own subject, names encoded as subject tokens", () => {
    const guard = statsSubjectGuard(subjects);
    const tail = subjectTail("db.example", "docker", "web.1");
    expect(guard({ subjectTail: tail }, subjects.stats("db.example", "docker", "web.1"))).toBeUndefined();
  });

  it("refuses a sample whose host, runtime or container differs from its subject's", () => {
    const guard = statsSubjectGuard(subjects);
    const tail = subjectTail("victim", "docker", "web");
    for (const subject of [
      subjects.stats("attacker", "docker", "web"),
      subjects.stats("victim", "kubernetes", "web"),
      subjects.stats("victim", "docker", "other"),
    ]) {
      expect(guard({ subjectTail: tail }, subject)).toEqual({
        reason: "subject_mismatch",
        detail: `received on ${subject}, but the payload belongs on crowsnest.v1.stats.victim.docker.web`,
      });
    }
  });

  it("checks host samples, events and inventories the same way", () => {
    expect(hostStatsSubjectGuard(subjects)({ host: "a" }, subjects.hostStats("a"))).toBeUndefined();
    expect(hostStatsSubjectGuard(subjects)({ host: "a" }, subjects.hostStats("b"))?.reason).toBe(
      "subject_mismatch",
    );
    const event = { host: "a", runtime: "docker", kind: "container", action: "die" } as const;
    expect(
      eventSubjectGuard(subjects)(event, subjects.event("a", "docker", "container", "die")),
    ).toBeUndefined();
    expect(
      eventSubjectGuard(subjects)(event, subjects.event("a", "docker", "container", "start"))?.reason,
    ).toBe("subject_mismatch");
    const inventory = { host: "a", runtime: "kubernetes" } as const;
    expect(inventorySubjectGuard(subjects)(inventory, subjects.inventory("a", "kubernetes"))).toBeUndefined();
    expect(inventorySubjectGuard(subjects)(inventory, subjects.inventory("b", "kubernetes"))?.reason).toBe(
      "subject_mismatch",
    );
  });
});
