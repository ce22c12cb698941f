// The JSON shapes of containers, samples and events, as the OpenAPI document describes them
// and as rows are turned into them.
import { z } from "@hono/zod-openapi";
import type { Selectable } from "kysely";
import type { ContainerEventsView, ContainerStatsView, ContainersView } from "../db/api-database.ts";

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());
const timestampJson = z.string().openapi({ format: "date-time", example: "2026-11-21T20:15:00.123Z" });

export const containerJson = z
  .object({
    id: z.number().int().openapi({ description: "Stable id assigned by the store." }),
    host: z.string(),
    runtime: z.string().openapi({ example: "docker" }),
    external_id: z.string().openapi({ description: "The runtime's own id." }),
    name: z.string(),
    image: z.string().nullable(),
    image_id: z.string().nullable(),
    state: z.string().openapi({ example: "running" }),
    health_status: z.string().nullable(),
    labels: z.record(z.string(), z.string()),
    compose: z.object({ project: z.string(), service: z.string().nullable() }).nullable(),
    created_at: timestampJson.nullable(),
    started_at: timestampJson.nullable(),
    finished_at: timestampJson.nullable(),
    exit_code: z.number().int().nullable(),
    first_seen: timestampJson,
    last_seen: timestampJson,
    gone_at: timestampJson.nullable().openapi({ description: "When the runtime stopped listing it." }),
    restarts: z
      .object({
        count: z.number().int().nonnegative(),
        since: timestampJson.openapi({ description: "`restarts_since` of the request (default 24 h ago)." }),
      })
      .openapi({
        description:
          "New runs of the container since `since`, from its stored lifecycle events: a start after a die (Docker), a restart event (Kubernetes: one per step of the kubelet's restartCount). Events older than the events retention are not counted.",
      }),
  })
  .openapi("Container");
export type ContainerJson = z.infer<typeof containerJson>;

export function toContainerJson(
  row: Selectable<ContainersView>,
  restarts: ContainerJson["restarts"],
): ContainerJson {
  return {
    id: row.id,
    host: row.host,
    runtime: row.runtime,
    external_id: row.external_id,
    name: row.name,
    image: row.image,
    image_id: row.image_id,
    state: row.state,
    health_status: row.health_status,
    labels: row.labels,
    compose:
      row.compose_project === null ? null : { project: row.compose_project, service: row.compose_service },
    created_at: iso(row.created_at),
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    exit_code: row.exit_code,
    first_seen: row.first_seen.toISOString(),
    last_seen: row.last_seen.toISOString(),
    gone_at: iso(row.gone_at),
    restarts,
  };
}

const nullableNumber = z.number().nullable();

export const statsSampleJson = z
  .object({
    container_id: z.number().int(),
    ts: timestampJson,
    interval_ms: nullableNumber,
    cpu_percent: nullableNumber.openapi({ description: "100 = one full core; null on a first sample." }),
    online_cpus: nullableNumber,
    cpu_limit_cores: nullableNumber.openapi({ description: "Null when unlimited." }),
    mem_used: nullableNumber.openapi({ description: "Bytes: usage minus inactive file cache." }),
    mem_limit: nullableNumber.openapi({ description: "Bytes; null when unlimited." }),
    mem_percent: nullableNumber.openapi({ description: "mem_used as % of mem_limit; null without a limit." }),
    net_rx_bytes: nullableNumber,
    net_tx_bytes: nullableNumber,
    net_rx_bytes_per_s: nullableNumber,
    net_tx_bytes_per_s: nullableNumber,
    blk_read_bytes: nullableNumber,
    blk_write_bytes: nullableNumber,
    blk_read_bytes_per_s: nullableNumber,
    blk_write_bytes_per_s: nullableNumber,
    pids: nullableNumber,
  })
  .openapi("StatsSample");
export type StatsSampleJson = z.infer<typeof statsSampleJson>;

export function toStatsSampleJson(row: Selectable<ContainerStatsView>): StatsSampleJson {
  const memPercent =
    row.mem_used !== null && row.mem_limit !== null && row.mem_limit > 0
      ? (row.mem_used / row.mem_limit) * 100
      : null;
  return { ...row, ts: row.ts.toISOString(), mem_percent: memPercent };
}

export const eventJson = z
  .object({
    id: z.number().int(),
    container_id: z.number().int(),
    ts: timestampJson,
    ts_nano: z.string().nullable().openapi({ description: "The runtime's nanosecond timestamp." }),
    kind: z.string(),
    action: z.string().openapi({ example: "die" }),
    exit_code: z.number().int().nullable(),
    oom_killed: z.boolean().nullable(),
    signal: z.string().nullable(),
    health_status: z.string().nullable(),
    synthesized: z.boolean(),
    image: z.string().nullable(),
    attributes: z.record(z.string(), z.string()),
  })
  .openapi("Event");
export type EventJson = z.infer<typeof eventJson>;

export function toEventJson(row: Omit<Selectable<ContainerEventsView>, "event_id">): EventJson {
  return { ...row, ts: row.ts.toISOString() };
}
