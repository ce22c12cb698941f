// A service's periodic sign of life: `<prefix>.v1.agents.<host>.<service>`.
import { z } from "zod";
import { hostName, runtime, schemaVersion, timestamp } from "./common.ts";

export const serviceName = z.enum(["collector", "watcher", "store", "api"]);

export const heartbeatMessage = z.object({
  v: schemaVersion,
  host: hostName,
  service: serviceName,
  version: z.string(),
  runtime: runtime.nullable().describe("The container runtime it reads; null for services that read none."),
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
