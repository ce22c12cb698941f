// A service's periodic sign of life: `<prefix>.v1.agents.<host>.<service>`.
import { z } from "zod";
import { hostName, runtime, schemaVersion, timestamp } from "./common.ts";

export const serviceName = z.enum(["collector", "watcher", "store", "api"]);

export const heartbeatMessage = z.object({
  v: schemaVersion,
  host: hostName,
  service: serviceName,
  version: z.string(),
  /** The container runtime it reads; null for services that read none. */
  runtime: runtime.nullable(),
  /** Whether it can currently reach its runtime (collector, watcher) or database (store, api). */
  connected: z.boolean(),
  started_at: timestamp,
  ts: timestamp,
  /** When the next heartbeat is due; a reader treats two missed ones as stale. */
  interval_ms: z.number().int().positive(),
});
export type HeartbeatMessage = z.infer<typeof heartbeatMessage>;
