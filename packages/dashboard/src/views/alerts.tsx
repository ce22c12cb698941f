// Alerts: what fires now, the history of transitions (filtered by metric and change), and the
// label rules that give containers their settings (created, edited and deleted by an admin).
import { useState } from "preact/hooks";
import { api, query } from "../api.ts";
import type {
  ActiveAlertsJson,
  AlertRuleJson,
  AlertSettings,
  AlertTransitionJson,
  Scope,
} from "../api-types.ts";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { useApi, useInterval } from "../components/use-api.ts";
import { formatAgo, formatTime } from "../format.ts";
import { parseSelector } from "../labels.ts";
import { navigate, withParams } from "../routing.ts";
import { SettingsForm, settingsOf } from "./alert-settings.tsx";

const DEFAULT_SETTINGS: AlertSettings = {
  enabled: true,
  cpu_threshold: 90,
  cpu_basis: "core",
  mem_threshold: 90,
  consecutive_breaches: 2,
  oom_alert: true,
  restart_loop_count: 3,
  restart_loop_window_s: 600,
};

export function AlertsView({ params, scope }: { params: URLSearchParams; scope: Scope }) {
  return (
    <>
      <h1>Alerts</h1>
      <Firing />
      <History params={params} />
      <Rules scope={scope} />
    </>
  );
}

const formatValue = (metric: string, value: number | null) =>
  value === null ? "" : metric === "cpu" || metric === "memory" ? `${value.toFixed(1)} %` : String(value);

function Firing() {
  const [loaded, reload] = useApi("alerts-active", () =>
    api.get<{ data: ActiveAlertsJson[] }>("/api/v1/alerts/active"),
  );
  useInterval(reload, 10_000);
  const nowMs = Date.now();
  return (
    <section aria-labelledby="firing-title">
      <h2 id="firing-title">Firing now</h2>
      {loaded.status === "error" ? <ErrorBox error={loaded.error} what="the firing alerts" /> : null}
      {!loaded.data ? (
        <Loading what="the firing alerts" />
      ) : loaded.data.data.length === 0 ? (
        <Empty>Nothing is firing.</Empty>
      ) : (
        <table class="firing">
          <thead>
            <tr>
              <th scope="col">Container</th>
              <th scope="col">Host</th>
              <th scope="col">Alert</th>
              <th scope="col">Value / threshold</th>
              <th scope="col">Since</th>
            </tr>
          </thead>
          <tbody>
            {loaded.data.data.flatMap((entry) =>
              entry.alerts.map((alert) => (
                <tr key={`${entry.container_id}:${alert.metric}`} class="warn">
                  <td>
                    <a href={`/containers/${entry.container_id}`}>{entry.name}</a>
                  </td>
                  <td>{entry.host}</td>
                  <td>
                    <span class="pill alert">{alert.metric}</span>
                  </td>
                  <td>
                    {formatValue(alert.metric, alert.value)}
                    {alert.threshold !== null ? ` / ${formatValue(alert.metric, alert.threshold)}` : ""}
                  </td>
                  <td title={formatTime(alert.fired_at)}>{formatAgo(alert.fired_at, nowMs)}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}

function History({ params }: { params: URLSearchParams }) {
  const metric = params.get("metric") ?? "";
  const change = params.get("change") ?? "";
  const path = `/api/v1/alerts/history${query({ metric, change, limit: 200 })}`;
  const [loaded] = useApi(path, () => api.get<{ data: AlertTransitionJson[] }>(path));
  const set = (key: string, value: string) => navigate(withParams({ [key]: value }));
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <form class="filters" aria-label="Filter the history" onSubmit={(e) => e.preventDefault()}>
        <label>
          Metric
          <select value={metric} onChange={(e) => set("metric", (e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {["cpu", "memory", "oom", "restart_loop"].map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <label>
          Change
          <select value={change} onChange={(e) => set("change", (e.target as HTMLSelectElement).value)}>
            <option value="">fired and resolved</option>
            <option value="fired">fired</option>
            <option value="resolved">resolved</option>
          </select>
        </label>
      </form>
      {loaded.status === "error" ? <ErrorBox error={loaded.error} what="the alert history" /> : null}
      {!loaded.data ? (
        <Loading what="the alert history" />
      ) : loaded.data.data.length === 0 ? (
        <Empty>No alert has fired{metric || change ? " matching these filters" : " yet"}.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Container</th>
              <th scope="col">Host</th>
              <th scope="col">Metric</th>
              <th scope="col">Change</th>
              <th scope="col">Value / threshold</th>
            </tr>
          </thead>
          <tbody>
            {loaded.data.data.map((entry) => (
              <tr key={entry.id} class={entry.change === "fired" ? "warn" : undefined}>
                <td>{formatTime(entry.ts)}</td>
                <td>
                  <a href={`/containers/${entry.container_id}`}>{entry.name}</a>
                </td>
                <td>{entry.host}</td>
                <td>{entry.metric}</td>
                <td>{entry.change}</td>
                <td>
                  {formatValue(entry.metric, entry.value)}
                  {entry.threshold !== null ? ` / ${formatValue(entry.metric, entry.threshold)}` : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function selectorText(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

function Rules({ scope }: { scope: Scope }) {
  const [loaded, reload] = useApi("alert-rules", () =>
    api.get<{ data: AlertRuleJson[] }>("/api/v1/alert-rules"),
  );
  const [editing, setEditing] = useState<AlertRuleJson | "new" | undefined>();
  const [problem, setProblem] = useState<unknown>();
  const admin = scope === "admin";
  return (
    <section aria-labelledby="rules-title">
      <div class="section-head">
        <h2 id="rules-title">Label rules</h2>
        {admin ? (
          <button type="button" onClick={() => setEditing("new")}>
            New rule
          </button>
        ) : null}
      </div>
      <p class="muted">
        A container without settings of its own takes those of the matching rule with the highest priority.
      </p>
      {problem ? <ErrorBox error={problem} what="the rule change" /> : null}
      {editing ? (
        <RuleEditor
          rule={editing}
          onDone={() => {
            setEditing(undefined);
            reload();
          }}
        />
      ) : null}
      {loaded.status === "error" ? <ErrorBox error={loaded.error} what="the rules" /> : null}
      {!loaded.data ? (
        <Loading what="the rules" />
      ) : loaded.data.data.length === 0 ? (
        <Empty>
          No rules.{" "}
          {admin
            ? "Create one to give many containers the same alert settings."
            : "An admin can create them."}
        </Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Selector</th>
              <th scope="col">Priority</th>
              <th scope="col">CPU / memory</th>
              <th scope="col">Enabled</th>
              {admin ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {loaded.data.data.map((rule) => (
              <tr key={rule.id}>
                <td>{rule.name}</td>
                <td class="mono">{selectorText(rule.selector) || "(every container)"}</td>
                <td>{rule.priority}</td>
                <td>
                  {rule.cpu_threshold ?? "—"} % / {rule.mem_threshold ?? "—"} %
                </td>
                <td>{rule.enabled ? "yes" : "no"}</td>
                {admin ? (
                  <td>
                    <button type="button" class="link" onClick={() => setEditing(rule)}>
                      Edit
                    </button>{" "}
                    <button
                      type="button"
                      class="link danger"
                      onClick={async () => {
                        if (!confirm(`Delete the rule “${rule.name}”?`)) return;
                        try {
                          await api.delete(`/api/v1/alert-rules/${rule.id}`);
                          reload();
                        } catch (error) {
                          setProblem(error);
                        }
                      }}
                    >
                      Delete
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function RuleEditor({ rule, onDone }: { rule: AlertRuleJson | "new"; onDone: () => void }) {
  const existing = rule === "new" ? undefined : rule;
  const [name, setName] = useState(existing?.name ?? "");
  const [selector, setSelector] = useState(existing ? selectorText(existing.selector) : "");
  const [priority, setPriority] = useState(existing?.priority ?? 0);
  const requirements = parseSelector(selector);
  const equalities = requirements?.every((r) => r.op === "=");
  return (
    <fieldset class="editor" aria-label={existing ? `Edit rule ${existing.name}` : "New rule"}>
      <label for="rule-name">Name</label>
      <input
        id="rule-name"
        value={name}
        required
        onInput={(e) => setName((e.target as HTMLInputElement).value)}
      />
      <label for="rule-selector">Labels (key=value, comma-separated; empty: every container)</label>
      <input
        id="rule-selector"
        class="mono"
        value={selector}
        aria-invalid={!equalities}
        onInput={(e) => setSelector((e.target as HTMLInputElement).value)}
      />
      {!equalities ? <p class="state error">Rules match labels by equality only: key=value.</p> : null}
      <label for="rule-priority">Priority (higher wins)</label>
      <input
        id="rule-priority"
        type="number"
        min="-1000"
        max="1000"
        value={priority}
        onInput={(e) => setPriority(Number((e.target as HTMLInputElement).value))}
      />
      <SettingsForm
        idPrefix="rule"
        initial={existing ? settingsOf(existing) : DEFAULT_SETTINGS}
        canEdit={true}
        submitLabel={existing ? "Save rule" : "Create rule"}
        onSubmit={async (settings) => {
          const body = {
            name,
            priority,
            selector: Object.fromEntries((requirements ?? []).map((r) => [r.key, r.value ?? ""])),
            ...settings,
          };
          if (existing) await api.put(`/api/v1/alert-rules/${existing.id}`, body);
          else await api.post("/api/v1/alert-rules", body);
          onDone();
        }}
        extra={
          <button type="button" onClick={onDone}>
            Cancel
          </button>
        }
      />
    </fieldset>
  );
}
