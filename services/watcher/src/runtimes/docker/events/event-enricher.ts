// Adds to an event what dockerd's event does not carry but the container's inspect does, read
// right after the event while it is still true:
// - `die`: State.OOMKilled. An OOM-killed PID 1 exits 137 like any SIGKILL; the `oom` event
//   just before is one sign, OOMKilled the other (it also covers an `oom` event that was lost).
// - `health_status`: the failing streak and the newest probe's output, as the attributes
//   `health_failing_streak` and `health_output`.
// The inspect has a deadline; when it fails the event goes out as it is (for `die`, with what
// the `oom` memory says), never held back.
import type { EventMessage, Logger } from "@crowsnest/shared/agent";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import { type InspectedContainer, parseContainerInspect } from "../container-inspect-parser.ts";
import type { DockerApi } from "../docker-api.ts";
import { classifyDockerError } from "../docker-errors.ts";

export interface EventEnricherOptions {
  docker: Pick<DockerApi, "inspectContainer">;
  logger: Logger;
  timeoutMs: number;
}

export type EventEnricher = (event: EventMessage) => Promise<EventMessage>;

/** Docker keeps at most 4 KiB of a probe's output; more would only come from an odd dockerd. */
const MAX_HEALTH_OUTPUT_CHARS = 4096;

/** The inspect describes the run that ended at `dieNano` (not a later one started by a restart policy). */
function describesRunEndedAt(inspected: InspectedContainer, dieNano: bigint | undefined): boolean {
  if (dieNano === undefined || inspected.startedNano === undefined) return true;
  return inspected.startedNano <= dieNano;
}

export function createEventEnricher(options: EventEnricherOptions): EventEnricher {
  const { docker, logger, timeoutMs } = options;
  const outage = new OutageLog({
    logger,
    failureMessage: "cannot inspect containers for event details; events published without them",
    recoveryMessage: "inspecting containers for event details works again",
  });

  const inspect = async (event: EventMessage): Promise<InspectedContainer | undefined> => {
    const id = event.actor.external_id;
    try {
      const json = await withDeadline(`inspecting container ${id}`, timeoutMs, (signal) =>
        docker.inspectContainer(id, { signal }),
      );
      outage.succeeded();
      return parseContainerInspect(json);
    } catch (error) {
      // Removed right after the event (docker run --rm): nothing to add, nothing wrong.
      if (classifyDockerError(error) !== "not_found") outage.failed({ err: error, container: id });
      return undefined;
    }
  };

  return async (event) => {
    if (event.action === "die") {
      // Already known from the `oom` event: no need to ask.
      if (event.oom_killed === true) return event;
      const inspected = await inspect(event);
      const dieNano = event.ts_nano === null ? undefined : BigInt(event.ts_nano);
      if (inspected?.oomKilled === true && describesRunEndedAt(inspected, dieNano)) {
        return { ...event, oom_killed: true };
      }
      return event;
    }
    if (event.action === "health_status") {
      const health = (await inspect(event))?.health;
      if (health === undefined || health === null) return event;
      const attributes = { ...event.attributes };
      if (health.failingStreak !== null) attributes.health_failing_streak = String(health.failingStreak);
      if (health.lastOutput !== null) {
        attributes.health_output = health.lastOutput.slice(0, MAX_HEALTH_OUTPUT_CHARS);
      }
      return { ...event, attributes };
    }
    return event;
  };
}
