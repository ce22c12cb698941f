// The host's own CPU and memory: `<prefix>.v1.host.<host>`.
import { z } from "zod";
import { byteCount, hostName, schemaVersion, timestamp } from "./common.ts";

export const hostStatsMessage = z.object({
  v: schemaVersion,
  host: hostName,
  ts: timestamp,
  cpu_percent: z
    .number()
    .min(0)
    .max(100)
    .nullable()
    .describe("Busy share of all CPUs since the previous sample, 0–100; null on the first sample."),
  online_cpus: z.number().int().positive(),
  mem_total: byteCount,
  mem_used: byteCount,
  mem_available: byteCount,
  load_1: z.number().nonnegative(),
  load_5: z.number().nonnegative(),
  load_15: z.number().nonnegative(),
  uptime_s: z.number().nonnegative(),
});
export type HostStatsMessage = z.infer<typeof hostStatsMessage>;
