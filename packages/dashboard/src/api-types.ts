// The shapes the dashboard reads from the api (docs/api.md and /api/v1/openapi.json) and from
// the live stream (the bus messages, contract/).

export type Scope = "read" | "admin";

export interface SessionJson {
  auth_required: boolean;
  scope: Scope | null;
  expires_at: string | null;
}

export interface ContainerJson {
  id: number;
  host: string;
  runtime: string;
  external_id: string;
  name: string;
  image: string | null;
  image_id: string | null;
  state: string;
  health_status: string | null;
  labels: Record<string, string>;
  compose: { project: string; service: string | null } | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  first_seen: string;
  last_seen: string;
  gone_at: string | null;
  /** New runs since `since` (the api's default: 24 hours ago). */
  restarts: { count: number; since: string };
}

/** GET …/containers/{id}/inspect: the runtime's description now (the bus contract's ContainerInfo). */
export interface InspectJson {
  container_id: number;
  host: string;
  inspected_at: string;
  container: Record<string, unknown> & { state: string; restart_count: number | null; pid: number | null };
}

/** A stats message of the live stream, and (near enough) GET …/stats/current. */
export interface StatsJson {
  host?: string;
  container?: { external_id: string; name: string };
  ts: string;
  cpu_percent: number | null;
  cpu_limit_cores: number | null;
  online_cpus: number | null;
  mem_used: number | null;
  mem_limit: number | null;
  net_rx_bytes_per_s: number | null;
  net_tx_bytes_per_s: number | null;
  blk_read_bytes_per_s: number | null;
  blk_write_bytes_per_s: number | null;
  pids: number | null;
}

export interface HostJson {
  id: number;
  name: string;
  online_cpus: number | null;
  mem_total: number | null;
  first_seen: string;
  last_seen: string;
}

export interface HostStatsJson {
  host?: string;
  ts: string;
  cpu_percent: number | null;
  mem_total: number | null;
  mem_used: number | null;
  load_1: number | null;
}

export interface EventJson {
  id?: number;
  container_id?: number;
  host?: string;
  actor?: { external_id: string; name: string };
  ts: string;
  kind: string;
  action: string;
  exit_code: number | null;
  oom_killed: boolean | null;
  signal: string | null;
  health_status: string | null;
  image: string | null;
  attributes: Record<string, string>;
}

export type AlertState = "normal" | "cpu_alert" | "mem_alert" | "both_alert";

export interface ActiveAlertsJson {
  container_id: number;
  name: string;
  host: string;
  state: AlertState;
  alerts: { metric: string; fired_at: string; value: number | null; threshold: number | null }[];
}

export interface AlertTransitionJson {
  id?: number;
  container_id?: number;
  name?: string;
  host: string;
  container?: { external_id: string; name: string };
  ts: string;
  metric: string;
  change: "fired" | "resolved";
  value: number | null;
  threshold: number | null;
  previous_state: AlertState;
  new_state: AlertState;
}

export interface AlertSettings {
  enabled: boolean;
  cpu_threshold: number | null;
  cpu_basis: "core" | "limit";
  mem_threshold: number | null;
  consecutive_breaches: number;
  oom_alert: boolean;
  restart_loop_count: number | null;
  restart_loop_window_s: number;
}

export interface AlertConfigJson extends AlertSettings {
  container_id: number;
  source: "container" | "rule" | "none";
  rule: { id: number; name: string } | null;
  memory_alert_possible: boolean;
}

export interface AlertRuleJson extends AlertSettings {
  id: number;
  name: string;
  selector: Record<string, string>;
  priority: number;
  created_at: string;
  updated_at: string;
}

export interface AgentJson {
  host: string;
  service: "collector" | "watcher" | "store" | "api";
  version: string;
  runtime: string | null;
  connected: boolean;
  started_at: string;
  ts: string;
  stale: boolean;
}

export interface SeriesValue {
  avg: number | null;
  max?: number | null;
}

export interface HistoryJson {
  id: number;
  from: string;
  to: string;
  granularity: string;
  points: ({ ts: string; samples: number } & Record<string, SeriesValue | string | number>)[];
}

export interface TopJson {
  metric: string;
  period: string;
  unit: string;
  data: {
    rank: number;
    container_id: number;
    name: string;
    host: string;
    value: number;
    max: number | null;
    percent_of_limit: number | null;
    samples: number;
  }[];
}

export interface LogLineJson {
  stream: "stdout" | "stderr" | "tty";
  ts: string | null;
  text: string;
}
