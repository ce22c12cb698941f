// The values of the bus contract that code needs without the schemas: the version, the time
// format, and the lists behind its enums. Written once here and used by the zod schemas
// (messages/*.ts) and by the hand-written checks (codec/contract-checks.ts), so that the agents,
// which load only the checks, never load zod (docs/benchmarks.md: it costs each agent MBs).

export const SCHEMA_VERSION = 1;

/**
 * RFC 3339 in UTC with exactly three decimals, as zod's `z.iso.datetime({ precision: 3 })` writes
 * it (leap days included); contract-checks.test.ts holds the two equal.
 */
export const TIMESTAMP_PATTERN: RegExp =
  /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}(?:Z))$/;

export const EPOCH_NANOS_PATTERN: RegExp = /^\d{1,20}$/;

export const EVENT_ACTION_PATTERN: RegExp = /^[a-z][a-z_]{0,63}$/;

/** Formats a Date the way every payload carries time. */
export function toTimestamp(date: Date): string {
  return date.toISOString();
}

export const CONTAINER_STATES = [
  "created",
  "running",
  "paused",
  "restarting",
  "removing",
  "exited",
  "dead",
  "unknown",
] as const;
export type ContainerState = (typeof CONTAINER_STATES)[number];

export const HEALTH_STATUSES = ["none", "starting", "healthy", "unhealthy"] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

const healthStatuses: ReadonlySet<unknown> = new Set(HEALTH_STATUSES);

export function isHealthStatus(value: unknown): value is HealthStatus {
  return healthStatuses.has(value);
}

export const EVENT_KINDS = ["container", "pod", "service", "node", "unit"] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/**
 * Actions published today. The schema accepts any lower-case word so that a subscriber
 * written against v1 keeps working when a runtime adds an action; these are the known ones.
 */
export const KNOWN_EVENT_ACTIONS = [
  "create",
  "start",
  "restart",
  "stop",
  "kill",
  "die",
  "oom",
  "pause",
  "unpause",
  "destroy",
  "rename",
  "health_status",
  // Kubernetes (container: start, die, restart, oom as above, plus readiness; pod, node, service):
  "ready",
  "unready",
  "scheduled",
  "delete",
  "add",
  "remove",
  "not_ready",
] as const;

export const SERVICE_NAMES = ["collector", "watcher", "store", "api"] as const;

export const INVENTORY_REASONS = ["startup", "resync", "periodic"] as const;

export const STATS_SOURCES = ["kubelet_summary", "metrics_api"] as const;
