// The content of one notification, independent of the channel: what happened, where, how much
// and since when. Stored with each delivery (so a retry sends exactly what was decided at fan-out)
// and, for generic webhooks, sent as is: version 1 of the documented webhook body.
import type { AlertState, AlertTransitionMessage } from "../messages/alert-transition-message.ts";

export type Severity = "critical" | "warning" | "info";

/** Kill-type alerts are critical, threshold breaches warnings, every recovery informational. */
export function severityOf(metric: AlertTransitionMessage["metric"], change: "fired" | "resolved"): Severity {
  if (change === "resolved") return "info";
  return metric === "oom" || metric === "restart_loop" ? "critical" : "warning";
}

export interface AlertNotification {
  v: 1;
  type: "alert_transition";
  /** The transition's id (alert history); a receiver can deduplicate on it. */
  transition_id: string;
  ts: string;
  host: string;
  runtime: AlertTransitionMessage["runtime"];
  container: { id: number; name: string; external_id: string; labels: Record<string, string> };
  metric: AlertTransitionMessage["metric"];
  change: "fired" | "resolved";
  severity: Severity;
  value: number | null;
  threshold: number | null;
  previous_state: AlertState;
  new_state: AlertState;
  /** For a resolved alert: when it fired and how long it lasted (null when not known). */
  fired_at: string | null;
  duration_s: number | null;
  /** The container in the dashboard, when CROWSNEST_PUBLIC_URL is set. */
  url: string | null;
  /**
   * Transitions of the same container folded into this message because the channel's rate
   * limit held them back (a flapping container): how many, and the first one's time.
   */
  folded: { count: number; since: string } | null;
}

export interface TestNotification {
  v: 1;
  type: "test";
  ts: string;
  channel: string;
  text: string;
}

export type Notification = AlertNotification | TestNotification;

const METRIC_NAMES: Record<AlertNotification["metric"], string> = {
  cpu: "CPU",
  memory: "Memory",
  oom: "OOM kill",
  restart_loop: "Restart loop",
};

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function amount(notification: AlertNotification): string | undefined {
  const { metric, value, threshold } = notification;
  if (value === null && threshold === null) return undefined;
  const unit = metric === "cpu" ? "% CPU" : metric === "memory" ? "% of memory limit" : " restarts";
  const shown = value === null ? "?" : formatNumber(value);
  return threshold === null ? `${shown}${unit}` : `${shown}${unit} (threshold ${formatNumber(threshold)})`;
}

/** `1h 2m 3s`-style, for how long an alert lasted. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const parts: string[] = [];
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) parts.push(`${d}d`);
  if (h > 0) parts.push(`${h}h`);
  if (m > 0) parts.push(`${m}m`);
  if (s % 60 > 0 || parts.length === 0) parts.push(`${s % 60}s`);
  return parts.join(" ");
}

/** A one-line title and a few lines of plain text, which every chat-style format builds on. */
export function renderText(notification: Notification): { title: string; lines: string[] } {
  if (notification.type === "test") {
    return {
      title: `Crowsnest test message for channel ${notification.channel}`,
      lines: [notification.text],
    };
  }
  const what = METRIC_NAMES[notification.metric];
  const state = notification.change === "fired" ? "FIRING" : "RESOLVED";
  const title = `[${state}] ${what} on ${notification.container.name} @ ${notification.host}`;
  const lines: string[] = [];
  const how = amount(notification);
  if (how) lines.push(how);
  lines.push(`State: ${notification.previous_state} → ${notification.new_state}`);
  if (notification.change === "resolved") {
    lines.push(
      notification.duration_s === null
        ? `Resolved at ${notification.ts}`
        : `Lasted ${formatDuration(notification.duration_s)} (since ${notification.fired_at})`,
    );
  } else lines.push(`Since ${notification.ts}`);
  if (notification.folded) {
    lines.push(
      `${notification.folded.count} transitions of this container since ${notification.folded.since} (flapping)`,
    );
  }
  if (notification.url) lines.push(notification.url);
  return { title, lines };
}
