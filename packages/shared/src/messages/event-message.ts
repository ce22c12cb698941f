// A normalized lifecycle event: `<prefix>.v1.events.<host>.<runtime>.<kind>.<action>`.
import { z } from "zod";
import { containerRef, epochNanos, hostName, labels, runtime, schemaVersion, timestamp } from "./common.ts";
import { healthStatus } from "./container-info.ts";
import { EVENT_ACTION_PATTERN, EVENT_KINDS, KNOWN_EVENT_ACTIONS } from "./contract-values.ts";

export { type EventKind, KNOWN_EVENT_ACTIONS } from "./contract-values.ts";

export const eventKind = z.enum(EVENT_KINDS);

export const eventMessage = z.object({
  v: schemaVersion,
  event_id: z
    .string()
    .min(1)
    .max(1024)
    .describe(
      "Unique per real-world event, also used as the JetStream message id, so a republished event is stored once.",
    ),
  host: hostName,
  runtime,
  kind: eventKind,
  action: z
    .string()
    .regex(EVENT_ACTION_PATTERN, "expected a lower-case action word")
    .describe(`A lower-case word; new ones may appear within v1. Known: ${KNOWN_EVENT_ACTIONS.join(", ")}.`),
  actor: containerRef,
  ts: timestamp.describe("When the runtime says it happened."),
  ts_nano: epochNanos.nullable().describe("The runtime's own nanosecond timestamp when it gives one."),
  image: z.string().nullable(),
  exit_code: z.number().int().nullable().describe("`die`: the exit code."),
  oom_killed: z
    .boolean()
    .nullable()
    .describe("`die`: true when the container was killed for running out of memory."),
  signal: z.string().nullable().describe("`kill`: the signal sent."),
  health_status: healthStatus.nullable().describe("`health_status`: the new status."),
  synthesized: z
    .boolean()
    .describe("True when the watcher inferred the event after a reconnect instead of seeing it happen."),
  attributes: labels,
});
export type EventMessage = z.infer<typeof eventMessage>;
