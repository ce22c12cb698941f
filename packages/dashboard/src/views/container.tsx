// One container: charts over a chosen window (presets, drag to zoom, custom from/to) with the
// average as a line and the maximum as a band, lifecycle events drawn on them and listed, a
// live tail while the window ends now; its logs, metadata and alert settings.
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiFailure, api, query } from "../api.ts";
import type {
  ContainerJson,
  EventJson,
  HistoryJson,
  InspectJson,
  Scope,
  SeriesValue,
  StatsJson,
} from "../api-types.ts";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { type ChartMarker, type ChartSeries, TimeChart } from "../components/time-chart.tsx";
import { useApi, useInterval } from "../components/use-api.ts";
import { formatBytes, formatCount, formatPercent, formatRate, formatTime } from "../format.ts";
import { namespaceOf, podOf } from "../labels.ts";
import { subscribeLive } from "../live.ts";
import { navigate, withParams } from "../routing.ts";
import { AlertSettingsPanel } from "./alert-settings.tsx";
import { LogsPanel } from "./logs.tsx";

const RANGES = { "1h": 1, "6h": 6, "24h": 24, "7d": 168, "30d": 720, "90d": 2160, "365d": 8760 } as const;
type RangeName = keyof typeof RANGES;
const HOUR_MS = 3_600_000;
/** Points a custom window asks for, about one per two pixels of a wide chart. */
const CUSTOM_POINTS = 600;

/**
 * Stored rows per series a window may read, with a margin under the api's 2000 (docs/api.md,
 * "History tiers"), which it counts on the window widened to whole steps.
 */
const MAX_ROWS = 1900;

/**
 * A step for a custom window: about CUSTOM_POINTS points, in the finest unit the api serves the
 * window in: seconds (raw samples, counted at one per 10 s) up to 5 h, whole minutes up to 31 h,
 * multiples of 5 minutes (five-minute rollups) up to 6.5 days, whole hours up to 79 days, then
 * whole days — so rollups serve long windows, and none reads more rows than the api allows.
 */
export function stepFor(spanMs: number): string {
  const stepS = Math.max(1, Math.ceil(spanMs / CUSTOM_POINTS / 1000));
  const fits = (rowS: number) => spanMs / 1000 / rowS <= MAX_ROWS;
  if (stepS < 60 && fits(10)) return `${stepS}s`;
  if (stepS < 3600 && fits(60)) return `${Math.ceil(stepS / 60)}m`;
  if (stepS < 3600 && fits(300)) return `${Math.ceil(stepS / 300) * 5}m`;
  if (stepS < 86_400 && fits(3600)) return `${Math.ceil(stepS / 3600)}h`;
  return `${Math.ceil(stepS / 86_400)}d`;
}

interface Window {
  fromMs: number;
  toMs: number;
  /** A preset window ends now, and follows it. */
  preset: RangeName | undefined;
}

function windowOf(params: URLSearchParams, nowMs: number): Window {
  const from = Date.parse(params.get("from") ?? "");
  const to = Date.parse(params.get("to") ?? "");
  if (!Number.isNaN(from)) return { fromMs: from, toMs: Number.isNaN(to) ? nowMs : to, preset: undefined };
  const preset = (params.get("range") ?? "1h") as RangeName;
  const hours = RANGES[preset] ?? 1;
  return { fromMs: nowMs - hours * HOUR_MS, toMs: nowMs, preset: preset in RANGES ? preset : "1h" };
}

interface Loaded {
  history: HistoryJson;
  events: EventJson[];
}

export function ContainerView({ id, params, scope }: { id: string; params: URLSearchParams; scope: Scope }) {
  const [containerState, reloadContainer] = useApi(`container:${id}`, () =>
    api.get<ContainerJson>(`/api/v1/containers/${encodeURIComponent(id)}`),
  );
  const container = containerState.data;
  const [nowMs, setNowMs] = useState(Date.now());
  const window = windowOf(params, nowMs);
  const windowKey = window.preset ?? `${params.get("from")}|${params.get("to")}`;

  const [loaded, reload] = useApi(
    container ? `history:${container.id}:${windowKey}` : null,
    async (): Promise<Loaded> => {
      if (!container) throw new Error("no container");
      const current = windowOf(params, Date.now());
      const historyQuery = current.preset
        ? query({ range: current.preset })
        : query({
            from: new Date(current.fromMs).toISOString(),
            to: new Date(current.toMs).toISOString(),
            step: stepFor(current.toMs - current.fromMs),
          });
      const [history, events] = await Promise.all([
        api.get<HistoryJson>(`/api/v1/containers/${container.id}/stats/history${historyQuery}`),
        api.get<{ data: EventJson[] }>(
          `/api/v1/containers/${container.id}/events${query({
            from: new Date(current.fromMs).toISOString(),
            to: current.preset ? undefined : new Date(current.toMs).toISOString(),
            limit: 500,
          })}`,
        ),
      ]);
      return { history, events: events.data };
    },
  );

  // While the window ends now: new samples and events from the live stream, and the window moves on.
  const [liveStats, setLiveStats] = useState<StatsJson[]>([]);
  const [liveEvents, setLiveEvents] = useState<EventJson[]>([]);
  const following = window.preset !== undefined && container !== undefined;
  useEffect(() => {
    setLiveStats([]);
    setLiveEvents([]);
    if (!following || !container) return;
    const subscription = subscribeLive(
      { kinds: ["stats", "events"], host: container.host, container: container.name },
      (kind, data) => {
        if (kind === "stats") {
          const sample = data as StatsJson;
          if (sample.container?.external_id === container.external_id)
            setLiveStats((list) => [...list, sample].slice(-5000));
        } else {
          const event = data as EventJson;
          if (event.actor?.external_id !== container.external_id) return;
          setLiveEvents((list) => [event, ...list]);
          if (event.action === "start" || event.action === "die") reloadContainer();
        }
      },
    );
    return () => subscription.close();
  }, [following, container?.id, loaded.data]);
  useInterval(() => {
    if (window.preset) setNowMs(Date.now());
  }, 5000);

  if (containerState.status === "error" && !container)
    return <ErrorBox error={containerState.error} what="this container" />;
  if (!container) return <Loading what="the container" />;

  const setWindow = (changes: Record<string, string | undefined>) => navigate(withParams(changes));

  return (
    <>
      <div class="section-head">
        <h1>
          {container.name} <span class={`pill state-${container.state}`}>{container.state}</span>
          {container.health_status ? (
            <span class={`pill health-${container.health_status}`}>{container.health_status}</span>
          ) : null}
        </h1>
        <a href="/">← all containers</a>
      </div>
      <p class="muted">
        on <strong>{container.host}</strong> · {container.runtime} · {container.image ?? "no image"}
        {container.exit_code !== null && container.state !== "running"
          ? ` · exited with ${container.exit_code}`
          : ""}
      </p>

      <section aria-labelledby="charts-title">
        <div class="section-head">
          <h2 id="charts-title">Resources</h2>
          <RangePicker window={window} onChange={setWindow} />
        </div>
        {loaded.status === "error" ? <ErrorBox error={loaded.error} what="the history" /> : null}
        {loaded.data ? (
          <Charts
            loaded={loaded.data}
            live={window.preset ? liveStats : []}
            liveEvents={window.preset ? liveEvents : []}
            window={window}
            onZoom={(fromMs, toMs) =>
              setWindow({
                range: undefined,
                from: new Date(fromMs).toISOString(),
                to: new Date(toMs).toISOString(),
              })
            }
          />
        ) : loaded.status === "loading" ? (
          <Loading what="the history" />
        ) : null}
        <button type="button" class="link" onClick={reload}>
          Reload
        </button>
      </section>

      <section aria-labelledby="events-title">
        <h2 id="events-title">Lifecycle events</h2>
        <EventList events={[...(window.preset ? liveEvents : []), ...(loaded.data?.events ?? [])]} />
      </section>

      <LogsPanel container={container} params={params} />

      <section aria-labelledby="meta-title">
        <h2 id="meta-title">Metadata</h2>
        <Metadata
          container={container}
          hasStoredSamples={loaded.data?.history.points.some((point) => point.samples > 0) ?? false}
          newestLive={liveStats.at(-1)}
        />
      </section>

      <AlertSettingsPanel container={container} scope={scope} />
    </>
  );
}

function RangePicker({
  window,
  onChange,
}: {
  window: Window;
  onChange: (changes: Record<string, string | undefined>) => void;
}) {
  const local = (ms: number) => {
    const date = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
    return date.toISOString().slice(0, 16);
  };
  const [from, setFrom] = useState(local(window.fromMs));
  const [to, setTo] = useState(local(window.toMs));
  useEffect(() => {
    setFrom(local(window.fromMs));
    setTo(local(window.toMs));
  }, [window.preset, window.preset ? 0 : window.fromMs, window.preset ? 0 : window.toMs]);
  return (
    <div class="range-picker">
      <fieldset class="presets" aria-label="Time range">
        {(Object.keys(RANGES) as RangeName[]).map((name) => (
          <button
            key={name}
            type="button"
            aria-pressed={window.preset === name}
            onClick={() =>
              onChange({ range: name === "1h" ? undefined : name, from: undefined, to: undefined })
            }
          >
            {name}
          </button>
        ))}
      </fieldset>
      <form
        class="custom-range"
        onSubmit={(event) => {
          event.preventDefault();
          const fromMs = new Date(from).getTime();
          const toMs = new Date(to).getTime();
          if (Number.isNaN(fromMs) || Number.isNaN(toMs) || toMs <= fromMs) return;
          onChange({
            range: undefined,
            from: new Date(fromMs).toISOString(),
            to: new Date(toMs).toISOString(),
          });
        }}
      >
        <label>
          From{" "}
          <input
            type="datetime-local"
            value={from}
            onInput={(e) => setFrom((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          To{" "}
          <input
            type="datetime-local"
            value={to}
            onInput={(e) => setTo((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Show</button>
      </form>
    </div>
  );
}

const value = (point: Record<string, unknown>, name: string, of: "avg" | "max"): number | null => {
  const entry = point[name] as SeriesValue | undefined;
  return entry?.[of] ?? null;
};

export function markerOf(event: EventJson): ChartMarker | undefined {
  const tsMs = Date.parse(event.ts);
  switch (event.action) {
    case "start":
      return { tsMs, label: "start", tone: "info" };
    case "restart":
      return { tsMs, label: "restart", tone: "warn" };
    case "oom":
      return { tsMs, label: "OOM", tone: "warn" };
    case "die":
      return {
        tsMs,
        label: event.oom_killed
          ? `OOM kill, exit ${event.exit_code ?? "?"}`
          : `exit ${event.exit_code ?? "?"}`,
        tone: "warn",
      };
    case "health_status":
      return {
        tsMs,
        label: `health: ${event.health_status ?? "?"}`,
        tone: event.health_status === "unhealthy" ? "warn" : "info",
      };
    default:
      return undefined;
  }
}

function Charts(props: {
  loaded: Loaded;
  live: StatsJson[];
  liveEvents: EventJson[];
  window: Window;
  onZoom: (fromMs: number, toMs: number) => void;
}) {
  const { points } = props.loaded.history;
  const charts = useMemo(() => {
    const lastHistoryMs = points.length > 0 ? Date.parse(points[points.length - 1]?.ts ?? "") : 0;
    const live = props.live.filter((sample) => Date.parse(sample.ts) > lastHistoryMs);
    const x = [...points.map((p) => Date.parse(p.ts) / 1000), ...live.map((s) => Date.parse(s.ts) / 1000)];
    const series = (name: string, of: "avg" | "max", liveValue: (s: StatsJson) => number | null) => [
      ...points.map((p) => value(p, name, of)),
      ...live.map(liveValue),
    ];
    const both = (name: string, liveValue: (s: StatsJson) => number | null) => [
      series(name, "avg", liveValue),
      series(name, "max", liveValue),
    ];
    return {
      cpu: [x, ...both("cpu_percent", (s) => s.cpu_percent)] as [number[], ...(number | null)[][]],
      memory: [x, ...both("mem_used", (s) => s.mem_used), series("mem_limit", "avg", (s) => s.mem_limit)] as [
        number[],
        ...(number | null)[][],
      ],
      net: [
        x,
        series("net_rx_bytes_per_s", "avg", (s) => s.net_rx_bytes_per_s),
        series("net_tx_bytes_per_s", "avg", (s) => s.net_tx_bytes_per_s),
      ] as [number[], ...(number | null)[][]],
      block: [
        x,
        series("blk_read_bytes_per_s", "avg", (s) => s.blk_read_bytes_per_s),
        series("blk_write_bytes_per_s", "avg", (s) => s.blk_write_bytes_per_s),
      ] as [number[], ...(number | null)[][]],
      pids: [x, ...both("pids", (s) => s.pids)] as [number[], ...(number | null)[][]],
    };
  }, [points, props.live]);
  const markers = useMemo(
    () => [...props.liveEvents, ...props.loaded.events].flatMap((event) => markerOf(event) ?? []),
    [props.loaded.events, props.liveEvents],
  );
  const avgMax = (label: string, color: string): ChartSeries[] => [
    { label: `${label} avg`, color, kind: "line" },
    { label: `${label} max`, color, kind: "max", bandOf: 0 },
  ];
  const common = { markers, fromMs: props.window.fromMs, toMs: props.window.toMs, onZoom: props.onZoom };
  return (
    <div class="charts">
      <p class="muted">
        {props.loaded.history.granularity === "raw"
          ? "Every sample"
          : `One point per ${props.loaded.history.granularity}`}
        : the line is the average, the shaded band reaches the maximum. Drag across a chart to zoom.
      </p>
      <TimeChart
        title="CPU (100 % = one core)"
        data={charts.cpu}
        series={avgMax("CPU", "--series-1")}
        format={formatPercent}
        {...common}
      />
      <TimeChart
        title="Memory (dashed: limit)"
        data={charts.memory}
        series={[...avgMax("Memory", "--series-2"), { label: "Limit", color: "--danger", kind: "limit" }]}
        format={formatBytes}
        {...common}
      />
      <TimeChart
        title="Network"
        data={charts.net}
        series={[
          { label: "rx", color: "--series-3", kind: "line" },
          { label: "tx", color: "--series-4", kind: "line" },
        ]}
        format={formatRate}
        {...common}
      />
      <TimeChart
        title="Block I/O"
        data={charts.block}
        series={[
          { label: "read", color: "--series-3", kind: "line" },
          { label: "write", color: "--series-4", kind: "line" },
        ]}
        format={formatRate}
        {...common}
      />
      <TimeChart
        title="Processes (pids)"
        data={charts.pids}
        series={avgMax("Processes", "--series-5")}
        format={formatCount}
        {...common}
      />
    </div>
  );
}

function EventList({ events }: { events: EventJson[] }) {
  if (events.length === 0) return <Empty>No lifecycle events in this window.</Empty>;
  return (
    <table class="events">
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Event</th>
          <th scope="col">Details</th>
        </tr>
      </thead>
      <tbody>
        {events.slice(0, 200).map((event, index) => (
          <tr key={event.id ?? `live-${index}`} class={markerOf(event)?.tone === "warn" ? "warn" : undefined}>
            <td>{formatTime(event.ts)}</td>
            <td>{event.action}</td>
            <td>{eventDetails(event)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function eventDetails(event: EventJson): string {
  const parts: string[] = [];
  if (event.exit_code !== null) parts.push(`exit code ${event.exit_code}`);
  if (event.oom_killed) parts.push("killed for running out of memory");
  if (event.action === "oom") parts.push("out of memory");
  if (event.signal) parts.push(`signal ${event.signal}`);
  if (event.health_status) parts.push(`health ${event.health_status}`);
  return parts.join(", ");
}

function Metadata(props: {
  container: ContainerJson;
  hasStoredSamples: boolean;
  newestLive: StatsJson | undefined;
}) {
  const { container } = props;
  // The newest stored sample, asked for only once the history shows there is one: before a
  // container's first sample the api answers 404 no_data, which the browser reports as an error.
  const [current] = useApi(props.hasStoredSamples ? `current:${container.id}` : null, () =>
    api.get<StatsJson>(`/api/v1/containers/${container.id}/stats/current`),
  );
  const sample = props.newestLive ?? current.data;
  const namespace = namespaceOf(container.labels);
  const labels = Object.entries(container.labels).sort(([a], [b]) => a.localeCompare(b));
  return (
    <div class="meta">
      <dl>
        <dt>Image</dt>
        <dd>{container.image ?? "—"}</dd>
        <dt>Runtime id</dt>
        <dd class="mono">{container.external_id}</dd>
        <dt>Created</dt>
        <dd>{formatTime(container.created_at)}</dd>
        <dt>Started</dt>
        <dd>{formatTime(container.started_at)}</dd>
        <dt>Finished</dt>
        <dd>{formatTime(container.finished_at)}</dd>
        <dt>Restarts</dt>
        <dd>
          {container.restarts.count} since {formatTime(container.restarts.since)}
        </dd>
        <dt>CPU limit</dt>
        <dd>
          {sample ? (sample.cpu_limit_cores === null ? "none" : `${sample.cpu_limit_cores} cores`) : "—"}
        </dd>
        <dt>Memory limit</dt>
        <dd>{sample ? (sample.mem_limit === null ? "none" : formatBytes(sample.mem_limit)) : "—"}</dd>
        <dt>Processes</dt>
        <dd>{sample?.pids ?? "—"}</dd>
        {container.compose ? (
          <>
            <dt>Compose</dt>
            <dd>
              project {container.compose.project}
              {container.compose.service ? `, service ${container.compose.service}` : ""}
            </dd>
          </>
        ) : null}
        {namespace ? (
          <>
            <dt>Kubernetes</dt>
            <dd>
              namespace {namespace}, pod {podOf(container.labels) ?? "?"}
            </dd>
          </>
        ) : null}
      </dl>
      <details>
        <summary>Labels ({labels.length})</summary>
        <table class="labels">
          <tbody>
            {labels.map(([key, labelValue]) => (
              <tr key={key}>
                <th scope="row" class="mono">
                  {key}
                </th>
                <td class="mono">{labelValue}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
      <InspectPanel container={container} sample={sample} />
      {current.status === "error" ? (
        <p class="muted">No sample yet: limits show once the collector has sampled it.</p>
      ) : null}
    </div>
  );
}

/**
 * The runtime's own description of the container, asked of its host's watcher when the panel
 * is opened (and again on Refresh). When the watcher does not answer (the host is offline) or
 * the runtime no longer has the container, the record Crowsnest stored is shown instead, and
 * labelled as such.
 */
function InspectPanel({ container, sample }: { container: ContainerJson; sample: StatsJson | undefined }) {
  const [open, setOpen] = useState(false);
  const [live, refresh] = useApi(open ? `inspect:${container.id}` : null, () =>
    api.get<InspectJson>(`/api/v1/containers/${container.id}/inspect`),
  );
  const stored = (
    <pre class="mono" data-source="stored">
      {JSON.stringify({ ...container, latest_sample: sample ?? null }, null, 2)}
    </pre>
  );
  let body = null;
  if (open && live.status === "loading") {
    body = <Loading what={`the container from the watcher of ${container.host}`} />;
  } else if (open && live.status === "ok") {
    body = (
      <>
        <p class="inspect-source live" role="status">
          Live from the runtime ({container.runtime}) on {container.host}, at{" "}
          {formatTime(live.data.inspected_at)}.
        </p>
        <pre class="mono" data-source="runtime">
          {JSON.stringify(live.data.container, null, 2)}
        </pre>
      </>
    );
  } else if (open && live.status === "error") {
    const code = live.error instanceof ApiFailure ? live.error.code : undefined;
    const why =
      code === "watcher_unavailable" || code === "runtime_unavailable"
        ? `The watcher of ${container.host} is not answering (is the host offline?)`
        : code === "not_found"
          ? `The runtime on ${container.host} no longer has this container`
          : `The runtime could not be asked (${live.error instanceof Error ? live.error.message : String(live.error)})`;
    body = (
      <>
        <p class="inspect-source stored" role="status">
          {why}: showing the stored record instead, as last reported at {formatTime(container.last_seen)}.
        </p>
        {stored}
      </>
    );
  }
  return (
    <details class="inspect" onToggle={(event) => setOpen((event.currentTarget as HTMLDetailsElement).open)}>
      <summary>Inspect</summary>
      {body}
      {open ? (
        <button type="button" class="link" onClick={refresh}>
          Ask the runtime again
        </button>
      ) : null}
    </details>
  );
}
