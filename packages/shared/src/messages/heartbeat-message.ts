// A service's periodic sign of life: `<prefix>.v1.agents.<host>.<service>`.
import { z } from "zod";
import { hostName, runtime, schemaVersion, timestamp } from "./common.ts";
import { SERVICE_NAMES } from "./contract-values.ts";

export const serviceName = z.enum(SERVICE_NAMES);

export const heartbeatMessage = z.object({
  v: schemaVersion,
  host: hostName,
  service: serviceName,
  version: z.string(),
  runtime: runtime.nullable().describe("The container runtime it reads; null for services that read none."),
  runtime_api_version: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe(
      "The version of its runtime's API it speaks, where the runtime has more than one: `v1`, or `v1alpha2` when a CRI runtime serves only that (runtime `cri`). Absent until the runtime has answered, for runtimes with none to tell, and from agents older than this field: readers must not require it.",
    ),
  connected: z
    .boolean()
    .describe("Whether it can currently reach its runtime (collector, watcher) or database (store, api)."),
  started_at: timestamp,
  ts: timestamp,
  interval_ms: z
    .number()
    .int()
    .positive()
    .describe("When the next heartbeat is due; a reader treats two missed ones as stale."),
});
export type HeartbeatMessage = z.infer<typeof heartbeatMessage>;
