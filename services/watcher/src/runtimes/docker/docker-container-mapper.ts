// Maps what Docker says about a container to the bus's containerInfo: an inspect answer gives
// everything (times, exit code, pid, health, limits); an entry of the list call, which is one
// request for the whole host, gives what it has and leaves the rest null. The list form is
// used for a container whose inspect failed.
import type { ContainerInfo } from "@crowsnest/shared/agent";
import { composeInfo } from "../../inventory/compose-info.ts";
import { nanosToTimestamp } from "../../time/nano-time.ts";
import type { InspectedContainer } from "./container-inspect-parser.ts";
import { mapDockerState } from "./container-inspect-parser.ts";
import type { ListedContainer } from "./docker-api.ts";

export { mapDockerState };

/**
 * The container's own name without Docker's leading `/`. A linked container is also listed
 * under `/<other>/<alias>`; the own name is the one without a further slash.
 */
export function containerName(names: readonly string[] | undefined): string {
  const stripped = (names ?? []).map((name) => name.replace(/^\//, ""));
  return stripped.find((name) => !name.includes("/")) ?? stripped[0] ?? "";
}

function createdAt(seconds: number | undefined): string | null {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return null;
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function toContainerInfo(listed: ListedContainer): ContainerInfo {
  const labels = { ...(listed.Labels ?? {}) };
  return {
    external_id: listed.Id,
    name: containerName(listed.Names),
    image: listed.Image ?? "",
    image_id: listed.ImageID ? listed.ImageID : null,
    state: mapDockerState(listed.State),
    labels,
    created_at: createdAt(listed.Created),
    started_at: null,
    finished_at: null,
    restart_count: null,
    exit_code: null,
    pid: null,
    health: null,
    limits: { mem_limit: null, cpu_limit_cores: null, pids_limit: null },
    compose: composeInfo(labels),
    kubernetes: null,
  };
}

/** States in which Docker's ExitCode is the code of a run that ended (it reads 0 while running). */
const EXITED_STATES: ReadonlySet<ContainerInfo["state"]> = new Set([
  "exited",
  "dead",
  "restarting",
  "removing",
]);

export function inspectedToContainerInfo(inspected: InspectedContainer): ContainerInfo {
  const labels = { ...inspected.labels };
  const exited = EXITED_STATES.has(inspected.state) && inspected.finishedNano !== undefined;
  return {
    external_id: inspected.id,
    name: inspected.name,
    image: inspected.image,
    image_id: inspected.imageId,
    state: inspected.state,
    labels,
    created_at: inspected.createdNano === undefined ? null : nanosToTimestamp(inspected.createdNano),
    started_at: inspected.startedNano === undefined ? null : nanosToTimestamp(inspected.startedNano),
    finished_at: inspected.finishedNano === undefined ? null : nanosToTimestamp(inspected.finishedNano),
    restart_count: inspected.restartCount,
    exit_code: exited ? inspected.exitCode : null,
    pid: inspected.pid,
    health:
      inspected.health === null
        ? null
        : {
            status: inspected.health.status,
            failing_streak: inspected.health.failingStreak,
            last_output: inspected.health.lastOutput,
          },
    limits: {
      mem_limit: inspected.limits.memLimitBytes,
      cpu_limit_cores: inspected.limits.cpuLimitCores,
      pids_limit: inspected.limits.pidsLimit,
    },
    compose: composeInfo(labels),
    kubernetes: null,
  };
}
