// The store trusts nothing it did not check: NATS permissions confine each host to its own
// subjects (docs/nats-security.md), so the subject is what vouches for who sent a message, and
// a payload naming another host, runtime or container than its subject is refused (dead-lettered
// as `subject_mismatch`) instead of being stored as that other host's.
import type { EventMessage, HostStatsMessage, InventoryMessage, Subjects } from "@crowsnest/shared";
import type { DecodedSample } from "./stats-decoder.ts";

export interface SubjectRefusal {
  reason: "subject_mismatch";
  detail: string;
}

function check(subject: string, expected: string): SubjectRefusal | undefined {
  if (subject === expected) return undefined;
  return {
    reason: "subject_mismatch",
    detail: `received on ${subject}, but the payload belongs on ${expected}`,
  };
}

/** Container samples: the subject's host, runtime and container tokens are the payload's. */
export function statsSubjectGuard(subjects: Subjects) {
  const base = subjects.all("stats").slice(0, -1);
  return (sample: Pick<DecodedSample, "subjectTail">, subject: string) =>
    check(subject, `${base}${sample.subjectTail}`);
}

export function hostStatsSubjectGuard(subjects: Subjects) {
  return (sample: Pick<HostStatsMessage, "host">, subject: string) =>
    check(subject, subjects.hostStats(sample.host));
}

export function eventSubjectGuard(subjects: Subjects) {
  return (event: Pick<EventMessage, "host" | "runtime" | "kind" | "action">, subject: string) =>
    check(subject, subjects.event(event.host, event.runtime, event.kind, event.action));
}

export function inventorySubjectGuard(subjects: Subjects) {
  return (inventory: Pick<InventoryMessage, "host" | "runtime">, subject: string) =>
    check(subject, subjects.inventory(inventory.host, inventory.runtime));
}
