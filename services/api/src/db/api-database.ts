// The store's tables as the api reads them: only the columns it queries, read-only except the
// alert configuration the api writes. The store owns the schema
// (services/store/src/db/migrations.ts, described in docs/store.md); this is the api's view of it.
import type { ColumnType } from "kysely";

type ReadOnly<T> = ColumnType<T, never, never>;

export interface ContainersView {
  id: ReadOnly<number>;
  host: ReadOnly<string>;
  runtime: ReadOnly<string>;
  external_id: ReadOnly<string>;
  name: ReadOnly<string>;
  image: ReadOnly<string | null>;
  image_id: ReadOnly<string | null>;
  state: ReadOnly<string>;
  labels: ReadOnly<Record<string, string>>;
  compose_project: ReadOnly<string | null>;
  compose_service: ReadOnly<string | null>;
  created_at: ReadOnly<Date | null>;
  started_at: ReadOnly<Date | null>;
  finished_at: ReadOnly<Date | null>;
  exit_code: ReadOnly<number | null>;
  health_status: ReadOnly<string | null>;
  first_seen: ReadOnly<Date>;
  last_seen: ReadOnly<Date>;
  gone_at: ReadOnly<Date | null>;
}

export interface ContainerStatsView {
  container_id: ReadOnly<number>;
  ts: ReadOnly<Date>;
  interval_ms: ReadOnly<number | null>;
  cpu_percent: ReadOnly<number | null>;
  online_cpus: ReadOnly<number | null>;
  cpu_limit_cores: ReadOnly<number | null>;
  mem_used: ReadOnly<number | null>;
  mem_limit: ReadOnly<number | null>;
  net_rx_bytes: ReadOnly<number | null>;
  net_tx_bytes: ReadOnly<number | null>;
  net_rx_bytes_per_s: ReadOnly<number | null>;
  net_tx_bytes_per_s: ReadOnly<number | null>;
  blk_read_bytes: ReadOnly<number | null>;
  blk_write_bytes: ReadOnly<number | null>;
  blk_read_bytes_per_s: ReadOnly<number | null>;
  blk_write_bytes_per_s: ReadOnly<number | null>;
  pids: ReadOnly<number | null>;
}

export interface ContainerEventsView {
  id: ReadOnly<number>;
  event_id: ReadOnly<string>;
  container_id: ReadOnly<number>;
  ts: ReadOnly<Date>;
  ts_nano: ReadOnly<string | null>;
  kind: ReadOnly<string>;
  action: ReadOnly<string>;
  exit_code: ReadOnly<number | null>;
  oom_killed: ReadOnly<boolean | null>;
  signal: ReadOnly<string | null>;
  health_status: ReadOnly<string | null>;
  synthesized: ReadOnly<boolean>;
  image: ReadOnly<string | null>;
  attributes: ReadOnly<Record<string, string>>;
}

export interface HostsView {
  id: ReadOnly<number>;
  name: ReadOnly<string>;
  online_cpus: ReadOnly<number | null>;
  mem_total: ReadOnly<number | null>;
  first_seen: ReadOnly<Date>;
  last_seen: ReadOnly<Date>;
}

export interface HostStatsView {
  host_id: ReadOnly<number>;
  ts: ReadOnly<Date>;
  cpu_percent: ReadOnly<number | null>;
  online_cpus: ReadOnly<number | null>;
  mem_total: ReadOnly<number | null>;
  mem_used: ReadOnly<number | null>;
  mem_available: ReadOnly<number | null>;
  load_1: ReadOnly<number | null>;
  load_5: ReadOnly<number | null>;
  load_15: ReadOnly<number | null>;
  uptime_s: ReadOnly<number | null>;
}

/** The alert settings shared by a container's own configuration and a label rule (the api writes these). */
export interface AlertSettingsColumns {
  enabled: ColumnType<boolean, boolean, boolean>;
  cpu_threshold: ColumnType<number | null, number | null, number | null>;
  cpu_basis: ColumnType<"core" | "limit", "core" | "limit", "core" | "limit">;
  mem_threshold: ColumnType<number | null, number | null, number | null>;
  consecutive_breaches: ColumnType<number, number, number>;
  oom_alert: ColumnType<boolean, boolean, boolean>;
  restart_loop_count: ColumnType<number | null, number | null, number | null>;
  restart_loop_window_s: ColumnType<number, number, number>;
  created_at: ColumnType<Date, never, never>;
  updated_at: ColumnType<Date, never, Date>;
}

export interface AlertConfigsTable extends AlertSettingsColumns {
  container_id: ColumnType<number, number, never>;
}

export interface AlertRulesTable extends AlertSettingsColumns {
  id: ColumnType<number, never, never>;
  name: ColumnType<string, string, string>;
  selector: ColumnType<Record<string, string>, string, string>;
  priority: ColumnType<number, number, number>;
}

/**
 * The alert settings in effect per container, as the store's engine applies them (a view the
 * store's migration 0007 defines): its own configuration, else the matching label rule of the
 * highest priority; no row, no alerting.
 */
export interface AlertSettingsInEffectView {
  container_id: ReadOnly<number>;
  source: ReadOnly<"container" | "rule">;
  rule_id: ReadOnly<number | null>;
  rule_name: ReadOnly<string | null>;
  enabled: ReadOnly<boolean>;
  cpu_threshold: ReadOnly<number | null>;
  cpu_basis: ReadOnly<"core" | "limit">;
  mem_threshold: ReadOnly<number | null>;
  consecutive_breaches: ReadOnly<number>;
  oom_alert: ReadOnly<boolean>;
  restart_loop_count: ReadOnly<number | null>;
  restart_loop_window_s: ReadOnly<number>;
}

export interface AlertStatesView {
  container_id: ReadOnly<number>;
  state: ReadOnly<string>;
  cpu_fired_at: ReadOnly<Date | null>;
  cpu_fired_value: ReadOnly<number | null>;
  cpu_fired_threshold: ReadOnly<number | null>;
  mem_fired_at: ReadOnly<Date | null>;
  mem_fired_value: ReadOnly<number | null>;
  mem_fired_threshold: ReadOnly<number | null>;
  restart_loop_fired_at: ReadOnly<Date | null>;
  restart_loop_fired_value: ReadOnly<number | null>;
  restart_loop_fired_threshold: ReadOnly<number | null>;
  last_oom_at: ReadOnly<Date | null>;
  updated_at: ReadOnly<Date>;
}

export interface AlertHistoryView {
  id: ReadOnly<number>;
  container_id: ReadOnly<number>;
  ts: ReadOnly<Date>;
  metric: ReadOnly<string>;
  change: ReadOnly<string>;
  value: ReadOnly<number | null>;
  threshold: ReadOnly<number | null>;
  previous_state: ReadOnly<string>;
  new_state: ReadOnly<string>;
  recorded_at: ReadOnly<Date>;
}

export interface ApiDatabase {
  containers: ContainersView;
  container_stats: ContainerStatsView;
  container_events: ContainerEventsView;
  hosts: HostsView;
  host_stats: HostStatsView;
  alert_configs: AlertConfigsTable;
  alert_rules: AlertRulesTable;
  alert_settings_in_effect: AlertSettingsInEffectView;
  alert_states: AlertStatesView;
  alert_history: AlertHistoryView;
}
