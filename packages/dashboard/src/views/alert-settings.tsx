// A container's alert settings, where they come from (its own, a label rule, or none), and
// with an admin session a form to set its own or to go back to the rules.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import type { AlertConfigJson, AlertSettings, ContainerJson, Scope } from "../api-types.ts";
import { ErrorBox, Loading } from "../components/states.tsx";
import { useApi } from "../components/use-api.ts";

const SETTINGS_KEYS: (keyof AlertSettings)[] = [
  "enabled",
  "cpu_threshold",
  "cpu_basis",
  "mem_threshold",
  "consecutive_breaches",
  "oom_alert",
  "restart_loop_count",
  "restart_loop_window_s",
];

export function settingsOf(value: AlertSettings): AlertSettings {
  return Object.fromEntries(SETTINGS_KEYS.map((key) => [key, value[key]])) as unknown as AlertSettings;
}

export function AlertSettingsPanel({ container, scope }: { container: ContainerJson; scope: Scope }) {
  const [loaded, reload] = useApi(`alert-config:${container.id}`, () =>
    api.get<AlertConfigJson>(`/api/v1/containers/${container.id}/alerts/config`),
  );
  const config = loaded.data;
  return (
    <section aria-labelledby="alert-settings-title">
      <h2 id="alert-settings-title">Alert settings</h2>
      {loaded.status === "error" ? <ErrorBox error={loaded.error} what="the alert settings" /> : null}
      {!config ? (
        <Loading what="the alert settings" />
      ) : (
        <>
          <p class="source">
            {config.source === "container"
              ? "Source: this container's own settings."
              : config.source === "rule"
                ? `Source: the label rule “${config.rule?.name ?? "?"}”.`
                : "Source: none — no rule matches and it has no settings of its own, so it does not alert."}
            {config.memory_alert_possible ? "" : " It has no memory limit, so memory alerts cannot fire."}
          </p>
          <SettingsForm
            // Without settings of its own or a rule, the api shows the defaults switched off; giving
            // the container its own settings means wanting its alerts, so the form starts enabled.
            initial={{ ...settingsOf(config), enabled: config.source === "none" ? true : config.enabled }}
            canEdit={scope === "admin"}
            submitLabel="Save for this container"
            onSubmit={async (settings) => {
              await api.put(`/api/v1/containers/${container.id}/alerts/config`, settings);
              reload();
            }}
            extra={
              config.source === "container" && scope === "admin" ? (
                <button
                  type="button"
                  onClick={async () => {
                    await api.delete(`/api/v1/containers/${container.id}/alerts/config`);
                    reload();
                  }}
                >
                  Remove own settings (use the rules)
                </button>
              ) : null
            }
          />
        </>
      )}
    </section>
  );
}

/** The alert settings as a form; read-only without an admin session. */
export function SettingsForm(props: {
  initial: AlertSettings;
  canEdit: boolean;
  submitLabel: string;
  onSubmit: (settings: AlertSettings) => Promise<void>;
  extra?: preact.ComponentChildren;
  idPrefix?: string;
}) {
  const [draft, setDraft] = useState(props.initial);
  const [problem, setProblem] = useState<unknown>();
  const [saved, setSaved] = useState(false);
  useEffect(() => setDraft(props.initial), [JSON.stringify(props.initial)]);
  const id = (name: string) => `${props.idPrefix ?? "alert"}-${name}`;
  const number = (text: string): number | null => (text.trim() === "" ? null : Number(text));
  const field = <K extends keyof AlertSettings>(key: K, value: AlertSettings[K]) => {
    setSaved(false);
    setDraft({ ...draft, [key]: value });
  };
  return (
    <form
      class="settings"
      onSubmit={async (event) => {
        event.preventDefault();
        setProblem(undefined);
        try {
          await props.onSubmit(draft);
          setSaved(true);
        } catch (error) {
          setProblem(error);
        }
      }}
    >
      <fieldset disabled={!props.canEdit}>
        {props.canEdit ? null : <legend>Read-only: sign in with an admin token to change these.</legend>}
        <label class="check">
          <input
            type="checkbox"
            id={id("enabled")}
            checked={draft.enabled}
            onChange={(e) => field("enabled", (e.target as HTMLInputElement).checked)}
          />
          Alerting enabled
        </label>
        <label for={id("cpu")}>CPU threshold (%, empty: none)</label>
        <input
          id={id("cpu")}
          type="number"
          min="0"
          step="any"
          value={draft.cpu_threshold ?? ""}
          onInput={(e) => field("cpu_threshold", number((e.target as HTMLInputElement).value))}
        />
        <label for={id("basis")}>CPU basis</label>
        <select
          id={id("basis")}
          value={draft.cpu_basis}
          onChange={(e) => field("cpu_basis", (e.target as HTMLSelectElement).value as "core" | "limit")}
        >
          <option value="core">100 % = one core</option>
          <option value="limit">100 % = its CPU limit</option>
        </select>
        <label for={id("mem")}>Memory threshold (% of limit, empty: none)</label>
        <input
          id={id("mem")}
          type="number"
          min="0"
          max="100"
          step="any"
          value={draft.mem_threshold ?? ""}
          onInput={(e) => field("mem_threshold", number((e.target as HTMLInputElement).value))}
        />
        <label for={id("breaches")}>Consecutive samples over the threshold before it fires</label>
        <input
          id={id("breaches")}
          type="number"
          min="1"
          max="100"
          value={draft.consecutive_breaches}
          onInput={(e) => field("consecutive_breaches", Number((e.target as HTMLInputElement).value))}
        />
        <label class="check">
          <input
            type="checkbox"
            checked={draft.oom_alert}
            onChange={(e) => field("oom_alert", (e.target as HTMLInputElement).checked)}
          />
          Alert on OOM kills
        </label>
        <label for={id("restarts")}>Restart loop: restarts (empty: none)</label>
        <input
          id={id("restarts")}
          type="number"
          min="1"
          value={draft.restart_loop_count ?? ""}
          onInput={(e) => field("restart_loop_count", number((e.target as HTMLInputElement).value))}
        />
        <label for={id("window")}>… within seconds</label>
        <input
          id={id("window")}
          type="number"
          min="10"
          value={draft.restart_loop_window_s}
          onInput={(e) => field("restart_loop_window_s", Number((e.target as HTMLInputElement).value))}
        />
        {props.canEdit ? (
          <div class="actions">
            <button type="submit">{props.submitLabel}</button>
            {props.extra}
            {saved ? <span role="status">Saved.</span> : null}
          </div>
        ) : null}
      </fieldset>
      {problem ? <ErrorBox error={problem} what="the settings" /> : null}
    </form>
  );
}
