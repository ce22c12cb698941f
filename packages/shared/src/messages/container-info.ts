// What the watcher knows about one container: carried by inventory and inspect replies.
import { z } from "zod";
import { byteCount, containerRef, labels, timestamp } from "./common.ts";

import { CONTAINER_STATES, HEALTH_STATUSES } from "./contract-values.ts";

export type { ContainerState, HealthStatus } from "./contract-values.ts";

export const containerState = z.enum(CONTAINER_STATES);

export const healthStatus = z.enum(HEALTH_STATUSES);

export const containerInfo = containerRef.extend({
  image: z.string(),
  image_id: z.string().nullable(),
  state: containerState,
  labels,
  created_at: timestamp.nullable(),
  started_at: timestamp.nullable(),
  finished_at: timestamp.nullable(),
  restart_count: z.number().int().nonnegative().nullable(),
  exit_code: z.number().int().nullable(),
  pid: z.number().int().nonnegative().nullable(),
  health: z
    .object({
      status: healthStatus,
      failing_streak: z.number().int().nonnegative().nullable(),
      last_output: z.string().nullable(),
    })
    .nullable(),
  limits: z.object({
    mem_limit: byteCount.nullable(),
    cpu_limit_cores: z.number().positive().nullable(),
    pids_limit: z.number().int().positive().nullable(),
  }),
  compose: z
    .object({
      project: z.string(),
      service: z.string(),
      number: z.number().int().nonnegative().nullable(),
    })
    .nullable(),
  kubernetes: z
    .object({
      namespace: z.string(),
      pod: z.string(),
      pod_uid: z.string(),
      container: z.string(),
      node: z.string().nullable(),
      owner_kind: z.string().nullable(),
      owner_name: z.string().nullable(),
      ready: z.boolean().nullable(),
    })
    .nullable()
    .describe("Where a Kubernetes container lives; null on Docker."),
});
export type ContainerInfo = z.infer<typeof containerInfo>;
