// The store's tables as Kysely sees them. docs/store.md describes each table and column.
import type { ColumnType, Generated as Identity } from "kysely";
import type { CONTAINER_ROLLUP, HOST_ROLLUP, RollupRow } from "../rollup/rollup-spec.ts";

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface ContainersTable {
  id: Identity<number>;
  host: string;
  runtime: string;
  external_id: string;
  name: string;
  image: string | null;
  image_id: string | null;
  state: string;
  labels: ColumnType<Record<string, string>, string, string>;
  compose_project: string | null;
  compose_service: string | null;
  created_at: Timestamp | null;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  exit_code: number | null;
  health_status: string | null;
  /** Time of the event or inventory that set `state`; older news never overwrites newer. */
  state_changed_at: Timestamp | null;
  first_seen: Identity<Date>;
  last_seen: Timestamp;
  gone_at: Timestamp | null;
}

export interface ContainerStatsTable {
  container_id: number;
  ts: Timestamp;
  interval_ms: number | null;
  cpu_percent: number | null;
  online_cpus: number | null;
  cpu_limit_cores: number | null;
  mem_used: number | null;
  mem_limit: number | null;
  net_rx_bytes: number | null;
  net_tx_bytes: number | null;
  net_rx_bytes_per_s: number | null;
  net_tx_bytes_per_s: number | null;
  blk_read_bytes: number | null;
  blk_write_bytes: number | null;
  blk_read_bytes_per_s: number | null;
  blk_write_bytes_per_s: number | null;
  pids: number | null;
}

export interface ContainerEventsTable {
  id: Identity<number>;
  event_id: string;
  container_id: number;
  ts: Timestamp;
  ts_nano: string | null;
  kind: string;
  action: string;
  exit_code: number | null;
  oom_killed: boolean | null;
  signal: string | null;
  health_status: string | null;
  synthesized: boolean;
  image: string | null;
  attributes: ColumnType<Record<string, string>, string, string>;
}

export interface HostsTable {
  id: Identity<number>;
  name: string;
  online_cpus: number | null;
  mem_total: number | null;
  first_seen: Identity<Date>;
  last_seen: Timestamp;
}

export interface HostStatsTable {
  host_id: number;
  ts: Timestamp;
  cpu_percent: number | null;
  online_cpus: number;
  mem_total: number;
  mem_used: number;
  mem_available: number;
  load_1: number;
  load_5: number;
  load_15: number;
  uptime_s: number;
}

/** Rollup rows: their columns come from the rollup spec, as the tables were created from it. */
export type ContainerStatsRollupTable = { container_id: number; bucket: Timestamp } & RollupRow<
  typeof CONTAINER_ROLLUP
>;
export type HostStatsRollupTable = { host_id: number; bucket: Timestamp } & RollupRow<typeof HOST_ROLLUP>;

export interface RollupBucketsTable {
  series: string;
  bucket: Timestamp;
  generation: number;
  computed_generation: number | null;
  computed_at: Timestamp | null;
  computations: number;
  source: string | null;
}

/** Settings shared by a container's own alert configuration and a label rule. */
interface AlertSettingsColumns {
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  /** null: no CPU alert. Percent: 100 = one core ('core') or the whole CPU limit ('limit'). */
  cpu_threshold: ColumnType<number | null, number | null | undefined, number | null>;
  cpu_basis: ColumnType<"core" | "limit", "core" | "limit" | undefined, "core" | "limit">;
  /** null: no memory alert. Percent of the memory limit; containers without one have no memory alert. */
  mem_threshold: ColumnType<number | null, number | null | undefined, number | null>;
  consecutive_breaches: ColumnType<number, number | undefined, number>;
  oom_alert: ColumnType<boolean, boolean | undefined, boolean>;
  /** null: no restart-loop alert. */
  restart_loop_count: ColumnType<number | null, number | null | undefined, number | null>;
  restart_loop_window_s: ColumnType<number, number | undefined, number>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface AlertConfigsTable extends AlertSettingsColumns {
  container_id: number;
}

export interface AlertRulesTable extends AlertSettingsColumns {
  id: Identity<number>;
  name: string;
  /** Label key → value; a container matches when its labels contain all of them ({} matches all). */
  selector: ColumnType<Record<string, string>, string | undefined, string>;
  /** Among matching rules the highest priority wins, then the lowest id. */
  priority: ColumnType<number, number | undefined, number>;
}

/**
 * The alert settings in effect per container (a view, migration 0007, which the api reads too):
 * its own configuration, else the matching label rule of the highest priority; no row, no alerting.
 */
export interface AlertSettingsInEffectView {
  container_id: number;
  source: "container" | "rule";
  rule_id: number | null;
  rule_name: string | null;
  enabled: boolean;
  cpu_threshold: number | null;
  cpu_basis: "core" | "limit";
  mem_threshold: number | null;
  consecutive_breaches: number;
  oom_alert: boolean;
  restart_loop_count: number | null;
  restart_loop_window_s: number;
}

export interface AlertStatesTable {
  container_id: number;
  state: "normal" | "cpu_alert" | "mem_alert" | "both_alert";
  cpu_breaches: number;
  mem_breaches: number;
  cpu_fired_at: Timestamp | null;
  cpu_fired_value: number | null;
  cpu_fired_threshold: number | null;
  mem_fired_at: Timestamp | null;
  mem_fired_value: number | null;
  mem_fired_threshold: number | null;
  restart_loop_fired_at: Timestamp | null;
  restart_loop_fired_value: number | null;
  restart_loop_fired_threshold: number | null;
  last_oom_at: Timestamp | null;
  evaluated_through: Timestamp | null;
  updated_at: Timestamp;
}

export interface AlertHistoryTable {
  id: Identity<number>;
  container_id: number;
  ts: Timestamp;
  metric: "cpu" | "memory" | "oom" | "restart_loop";
  change: "fired" | "resolved";
  value: number | null;
  threshold: number | null;
  previous_state: string;
  new_state: string;
  recorded_at: Identity<Date>;
  published_at: Timestamp | null;
}

export interface StoreDatabase {
  containers: ContainersTable;
  container_stats: ContainerStatsTable;
  container_events: ContainerEventsTable;
  hosts: HostsTable;
  host_stats: HostStatsTable;
  container_stats_hourly: ContainerStatsRollupTable;
  container_stats_daily: ContainerStatsRollupTable;
  host_stats_hourly: HostStatsRollupTable;
  host_stats_daily: HostStatsRollupTable;
  rollup_buckets: RollupBucketsTable;
  alert_configs: AlertConfigsTable;
  alert_rules: AlertRulesTable;
  alert_settings_in_effect: AlertSettingsInEffectView;
  alert_states: AlertStatesTable;
  alert_history: AlertHistoryTable;
}
