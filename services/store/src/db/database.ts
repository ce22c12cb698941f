// The store's tables as Kysely sees them. docs/store.md describes each table and column.
import type { ColumnType, Generated as Identity } from "kysely";

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

/** Computed by Postgres (GENERATED … STORED): read only. */
type Generated<T> = ColumnType<T, never, never>;

/** A gauge's rollup columns: samples that had it, their sum, average (generated) and maximum. */
interface RollupGaugeColumns {
  samples: number;
}

export interface ContainerStatsRollupTable extends RollupGaugeColumns {
  container_id: number;
  bucket: Timestamp;
  cpu_percent_samples: number;
  cpu_percent_sum: number | null;
  cpu_percent_max: number | null;
  cpu_percent_avg: Generated<number | null>;
  mem_used_samples: number;
  mem_used_sum: number | null;
  mem_used_max: number | null;
  mem_used_avg: Generated<number | null>;
  mem_limit_samples: number;
  mem_limit_sum: number | null;
  mem_limit_avg: Generated<number | null>;
  net_rx_bytes_per_s_samples: number;
  net_rx_bytes_per_s_sum: number | null;
  net_rx_bytes_per_s_max: number | null;
  net_rx_bytes_per_s_avg: Generated<number | null>;
  net_tx_bytes_per_s_samples: number;
  net_tx_bytes_per_s_sum: number | null;
  net_tx_bytes_per_s_max: number | null;
  net_tx_bytes_per_s_avg: Generated<number | null>;
  blk_read_bytes_per_s_samples: number;
  blk_read_bytes_per_s_sum: number | null;
  blk_read_bytes_per_s_max: number | null;
  blk_read_bytes_per_s_avg: Generated<number | null>;
  blk_write_bytes_per_s_samples: number;
  blk_write_bytes_per_s_sum: number | null;
  blk_write_bytes_per_s_max: number | null;
  blk_write_bytes_per_s_avg: Generated<number | null>;
  net_rx_bytes: number | null;
  net_tx_bytes: number | null;
  blk_read_bytes: number | null;
  blk_write_bytes: number | null;
}

export interface HostStatsRollupTable extends RollupGaugeColumns {
  host_id: number;
  bucket: Timestamp;
  cpu_percent_samples: number;
  cpu_percent_sum: number | null;
  cpu_percent_max: number | null;
  cpu_percent_avg: Generated<number | null>;
  mem_used_samples: number;
  mem_used_sum: number | null;
  mem_used_max: number | null;
  mem_used_avg: Generated<number | null>;
  mem_total_samples: number;
  mem_total_sum: number | null;
  mem_total_avg: Generated<number | null>;
  load_1_samples: number;
  load_1_sum: number | null;
  load_1_max: number | null;
  load_1_avg: Generated<number | null>;
}

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
