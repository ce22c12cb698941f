// Reads dockerd's inspect answer (`GET /containers/{id}/json`) into what the watcher uses: the
// metadata of inventories and inspect replies, the state and times resynchronization compares,
// OOMKilled for a `die`, the health streak and output for a `health_status`, and Tty for logs.
// It is outside input: a missing or odd field makes one value unknown, never an error.
import { type ContainerState, cpuLimitCores, type HealthStatus } from "@crowsnest/shared/agent";
import { field, isJsonObject, positiveInteger } from "@crowsnest/shared/util/json-fields";
import { rfc3339ToNanos } from "../../time/nano-time.ts";

export interface InspectedHealth {
  readonly status: HealthStatus;
  readonly failingStreak: number | null;
  /** Output of the newest probe, as Docker keeps it (at most 4 KiB). */
  readonly lastOutput: string | null;
}

export interface ContainerLimits {
  readonly memLimitBytes: number | null;
  readonly cpuLimitCores: number | null;
  readonly pidsLimit: number | null;
}

export interface InspectedContainer {
  readonly id: string;
  readonly name: string;
  /** The image as the container was created from it (`nginx:1.27`). */
  readonly image: string;
  readonly imageId: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: ContainerState;
  readonly createdNano: bigint | undefined;
  /** Start of the current or last run; undefined when it never ran. */
  readonly startedNano: bigint | undefined;
  /** End of the last run; undefined when it never ended. */
  readonly finishedNano: bigint | undefined;
  /** Docker's ExitCode, which is 0 while running: only meaningful once the container exited. */
  readonly exitCode: number | null;
  readonly oomKilled: boolean | null;
  readonly pid: number | null;
  readonly restartCount: number | null;
  /** Null when the container has no health check. */
  readonly health: InspectedHealth | null;
  readonly tty: boolean;
  readonly limits: ContainerLimits;
}

const DOCKER_STATES: Readonly<Record<string, ContainerState>> = {
  created: "created",
  running: "running",
  paused: "paused",
  restarting: "restarting",
  removing: "removing",
  exited: "exited",
  dead: "dead",
};

export function mapDockerState(state: unknown): ContainerState {
  if (typeof state !== "string") return "unknown";
  return DOCKER_STATES[state.trim().toLowerCase()] ?? "unknown";
}

const HEALTH_STATUSES: ReadonlySet<string> = new Set(["none", "starting", "healthy", "unhealthy"]);

function stringOr<T>(value: unknown, fallback: T): string | T {
  return typeof value === "string" ? value : fallback;
}

function integerOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isSafeInteger(value) ? value : null;
}

function stringLabels(value: unknown): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!isJsonObject(value)) return labels;
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry === "string") labels[key] = entry;
  }
  return labels;
}

function health(state: unknown): InspectedHealth | null {
  const raw = field(state, "Health");
  if (!isJsonObject(raw)) return null;
  const status = raw.Status;
  const log = raw.Log;
  const last = Array.isArray(log) ? log.at(-1) : undefined;
  const output = field(last, "Output");
  const streak = integerOrNull(raw.FailingStreak);
  return {
    status: typeof status === "string" && HEALTH_STATUSES.has(status) ? (status as HealthStatus) : "none",
    failingStreak: streak !== null && streak >= 0 ? streak : null,
    lastOutput: typeof output === "string" ? output : null,
  };
}

/** Undefined when the answer is not an inspect of a container (no Id). */
export function parseContainerInspect(json: unknown): InspectedContainer | undefined {
  if (!isJsonObject(json) || typeof json.Id !== "string" || json.Id === "") return undefined;
  const state = json.State;
  const config = json.Config;
  const hostConfig = json.HostConfig;
  const pid = integerOrNull(field(state, "Pid"));
  const restartCount = integerOrNull(json.RestartCount);
  const oomKilled = field(state, "OOMKilled");
  return {
    id: json.Id,
    name: stringOr(json.Name, "").replace(/^\//, ""),
    image: stringOr(field(config, "Image"), ""),
    imageId: stringOr(json.Image, null) || null,
    labels: stringLabels(field(config, "Labels")),
    state: mapDockerState(field(state, "Status")),
    createdNano: rfc3339ToNanos(json.Created),
    startedNano: rfc3339ToNanos(field(state, "StartedAt")),
    finishedNano: rfc3339ToNanos(field(state, "FinishedAt")),
    exitCode: integerOrNull(field(state, "ExitCode")),
    oomKilled: typeof oomKilled === "boolean" ? oomKilled : null,
    // 0 is "no process".
    pid: pid !== null && pid > 0 ? pid : null,
    restartCount: restartCount !== null && restartCount >= 0 ? restartCount : null,
    health: health(state),
    tty: field(config, "Tty") === true,
    limits: {
      // 0 is Docker's "no limit"; for pids, 0 and -1 are.
      memLimitBytes: positiveInteger(field(hostConfig, "Memory")),
      cpuLimitCores: cpuLimitCores(hostConfig),
      pidsLimit: positiveInteger(field(hostConfig, "PidsLimit")),
    },
  };
}
