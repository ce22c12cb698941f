// A Docker container as the watcher records it on the bus to resume from after a restart (the
// `state` of its entries in the watcher-state bucket, see recovery/published-state-store.ts),
// and back. A value it cannot use (another version wrote it, someone edited the bucket) reads
// as undefined, never as a wrong state.
import { isHealthStatus } from "@crowsnest/shared/agent";
import type { StateCodec } from "../recovery/published-state-store.ts";
import type { RememberedContainer } from "./container-state-tracker.ts";

const PHASES: ReadonlySet<string> = new Set(["created", "running", "paused", "down"]);

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) => typeof entry === "string")
  );
}

export const rememberedContainerCodec: StateCodec<RememberedContainer> = {
  toJson(container) {
    return {
      name: container.name,
      image: container.image,
      labels: container.labels,
      phase: container.phase,
      last_start_nano: container.lastStartNano === undefined ? null : container.lastStartNano.toString(),
      health: container.health,
    };
  },
  fromJson(json) {
    if (typeof json !== "object" || json === null) return undefined;
    const value = json as Record<string, unknown>;
    const { name, image, labels, phase, last_start_nano: lastStart, health } = value;
    if (typeof name !== "string" || typeof image !== "string" || !isStringRecord(labels)) return undefined;
    if (typeof phase !== "string" || !PHASES.has(phase)) return undefined;
    if (lastStart !== null && (typeof lastStart !== "string" || !/^\d{1,30}$/.test(lastStart)))
      return undefined;
    if (health !== null && !isHealthStatus(health)) return undefined;
    return {
      name,
      image,
      labels,
      phase: phase as RememberedContainer["phase"],
      lastStartNano: lastStart === null ? undefined : BigInt(lastStart),
      health,
    };
  },
};
