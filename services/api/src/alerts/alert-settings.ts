// The alert settings the api reads and writes: one schema for a container's own configuration
// and for label rules, with the ranges the store's engine enforces (docs/store.md, Alerts).
import { z } from "@hono/zod-openapi";

export const ALERT_DEFAULTS = {
  enabled: true,
  cpu_threshold: 90,
  cpu_basis: "core" as "core" | "limit",
  mem_threshold: 90,
  consecutive_breaches: 2,
  oom_alert: true,
  restart_loop_count: 3,
  restart_loop_window_s: 600,
};

/** A body that sets alert settings; omitted fields take their defaults, unknown ones are refused. */
export const alertSettingsBody = {
  enabled: z.boolean().default(ALERT_DEFAULTS.enabled),
  cpu_threshold: z
    .number()
    .gt(0)
    .max(100_000)
    .nullable()
    .default(ALERT_DEFAULTS.cpu_threshold)
    .openapi({ description: "Percent (see cpu_basis); null: no CPU alert." }),
  cpu_basis: z
    .enum(["core", "limit"])
    .default(ALERT_DEFAULTS.cpu_basis)
    .openapi({ description: "core: 100 = one core; limit: 100 = the container's whole CPU limit." }),
  mem_threshold: z.number().gt(0).max(100).nullable().default(ALERT_DEFAULTS.mem_threshold).openapi({
    description: "Percent of the memory limit; null: no memory alert. Containers without a limit get none.",
  }),
  consecutive_breaches: z.number().int().min(1).max(100).default(ALERT_DEFAULTS.consecutive_breaches),
  oom_alert: z.boolean().default(ALERT_DEFAULTS.oom_alert),
  restart_loop_count: z.number().int().min(1).max(1000).nullable().default(ALERT_DEFAULTS.restart_loop_count),
  restart_loop_window_s: z.number().int().min(10).max(86_400).default(ALERT_DEFAULTS.restart_loop_window_s),
};

export const alertSettingsJson = z.object({
  enabled: z.boolean(),
  cpu_threshold: z.number().nullable(),
  cpu_basis: z.enum(["core", "limit"]),
  mem_threshold: z.number().nullable(),
  consecutive_breaches: z.number().int(),
  oom_alert: z.boolean(),
  restart_loop_count: z.number().int().nullable(),
  restart_loop_window_s: z.number().int(),
});
export type AlertSettings = z.infer<typeof alertSettingsJson>;

export const SETTINGS_COLUMNS = [
  "enabled",
  "cpu_threshold",
  "cpu_basis",
  "mem_threshold",
  "consecutive_breaches",
  "oom_alert",
  "restart_loop_count",
  "restart_loop_window_s",
] as const;

export function pickSettings(row: AlertSettings): AlertSettings {
  return Object.fromEntries(SETTINGS_COLUMNS.map((column) => [column, row[column]])) as AlertSettings;
}
