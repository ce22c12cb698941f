// An alert state change of one container: `<prefix>.v1.alerts.<host>.<container>`.
import { z } from "zod";
import { containerRef, hostName, runtime, schemaVersion, timestamp } from "./common.ts";

export const alertState = z.enum(["normal", "cpu_alert", "mem_alert", "both_alert"]);
export type AlertState = z.infer<typeof alertState>;

export const alertTransitionMessage = z.object({
  v: schemaVersion,
  host: hostName,
  runtime,
  container: containerRef,
  ts: timestamp,
  metric: z.enum(["cpu", "memory", "oom", "restart_loop"]),
  change: z.enum(["fired", "resolved"]),
  value: z
    .number()
    .nullable()
    .describe("The metric's own value at the transition (null for event-driven alerts)."),
  threshold: z.number().nullable().describe("The threshold it crossed (null for event-driven alerts)."),
  previous_state: alertState,
  new_state: alertState,
});
export type AlertTransitionMessage = z.infer<typeof alertTransitionMessage>;
