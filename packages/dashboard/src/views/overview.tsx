// Overview: every host (CPU, memory, a load sparkline, whether its collector and watcher are
// heard from) and every container in one table — sorted, filtered and grouped as the URL says,
// kept current by the live stream, and virtualized so a thousand rows stay smooth.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { allContainers, api } from "../api.ts";
import type {
  ActiveAlertsJson,
  AgentJson,
  AlertState,
  AlertTransitionJson,
  ContainerJson,
  EventJson,
  HostJson,
  HostStatsJson,
  StatsJson,
} from "../api-types.ts";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { Sparkline } from "../components/time-chart.tsx";
import { useApi, useInterval } from "../components/use-api.ts";
import { VirtualRows } from "../components/virtual-rows.tsx";
import { formatBytes, formatDuration, formatPercent, formatRate, formatTime } from "../format.ts";
import { matchesSelector, namespaceOf, parseSelector } from "../labels.ts";
import { type LiveStatus, subscribeLive } from "../live.ts";
import { navigate, withParams } from "../routing.ts";

/** How often the table takes in what the live stream brought (a sample per container every few seconds). */
const REFRESH_MS = 1000;
const SPARKLINE_POINTS = 60;
/** Significant digits a sparkline's values need: a line tens of pixels high shows three. */
const SPARKLINE_DIGITS = 3;

interface OverviewData {
  containers: ContainerJson[];
  hosts: HostJson[];
  alerts: Map<number, AlertState>;
}

interface HostDetails {
  hostStats: Map<string, HostStatsJson>;
  hostLoad: Map<string, number[]>;
}

const containerKey = (host: string, externalId: string) => `${host}\u0000${externalId}`;

async function loadOverview(): Promise<OverviewData> {
  const [containers, hosts, active] = await Promise.all([
    allContainers(),
    api.get<{ data: HostJson[] }>("/api/v1/hosts"),
    api.get<{ data: ActiveAlertsJson[] }>("/api/v1/alerts/active"),
  ]);
  return {
    containers,
    hosts: hosts.data,
    alerts: new Map(active.data.map((entry) => [entry.container_id, entry.state])),
  };
}

/** The columnar answer of GET /stats/series and /hosts/stats/series (docs/api.md). */
interface SeriesAnswer {
  series: {
    id: number;
    name: string;
    /** Absent when not asked for (`aggregates=avg`). */
    samples?: number[];
    values: Record<string, { avg?: (number | null)[] }>;
  }[];
}

const sparkline = (values: (number | null)[] | undefined): number[] =>
  (values ?? []).filter((value): value is number => value !== null);

/**
 * Every host's last hour of load (one request for all), then the newest sample of each host that
 * has samples (asking for one that has none would be a 404 the browser reports as an error):
 * after the table, not before it.
 */
async function loadHostDetails(hosts: HostJson[]): Promise<HostDetails> {
  const hostStats = new Map<string, HostStatsJson>();
  const hostLoad = new Map<string, number[]>();
  if (hosts.length === 0) return { hostStats, hostLoad };
  const series = await api
    .get<SeriesAnswer>(
      `/api/v1/hosts/stats/series?metrics=load_1&range=1h&points=${SPARKLINE_POINTS}&digits=${SPARKLINE_DIGITS}`,
    )
    .catch(() => undefined);
  const sampled = new Set<number>();
  for (const entry of series?.series ?? []) {
    hostLoad.set(entry.name, sparkline(entry.values.load_1?.avg));
    if (entry.samples?.some((count) => count > 0)) sampled.add(entry.id);
  }
  await Promise.all(
    hosts
      .filter((host) => sampled.has(host.id))
      .map(async (host) => {
        const current = await api
          .get<HostStatsJson>(`/api/v1/hosts/${host.id}/stats/current`)
          .catch(() => undefined);
        if (current) hostStats.set(host.name, current);
      }),
  );
  return { hostStats, hostLoad };
}

/** The series endpoint's most ids per request. */
const SERIES_BATCH = 500;
/** Minute rollups change once a minute: the sparklines are fetched again that often. */
const SPARKLINE_REFRESH_MS = 60_000;

/**
 * The last hour of CPU of the given containers, in requests of up to 500 ids: averages only,
 * all a sparkline draws (a third of the answer with maxima and sample counts).
 */
async function loadCpuSparklines(ids: number[]): Promise<Map<number, number[]>> {
  const byId = new Map<number, number[]>();
  const batches: number[][] = [];
  for (let start = 0; start < ids.length; start += SERIES_BATCH)
    batches.push(ids.slice(start, start + SERIES_BATCH));
  await Promise.all(
    batches.map(async (batch) => {
      const answer = await api.get<SeriesAnswer>(
        `/api/v1/stats/series?ids=${batch.join(",")}&metrics=cpu_percent&aggregates=avg&digits=${SPARKLINE_DIGITS}&range=1h&points=${SPARKLINE_POINTS}`,
      );
      for (const entry of answer.series) byId.set(entry.id, sparkline(entry.values.cpu_percent?.avg));
    }),
  );
  return byId;
}

type SortKey =
  | "name"
  | "host"
  | "state"
  | "cpu"
  | "memory"
  | "net"
  | "block"
  | "restarts"
  | "uptime"
  | "alert";
type Column = { key: SortKey; label: string; numeric?: boolean } | { key: "cpu_trend"; label: string };
const COLUMNS: Column[] = [
  { key: "name", label: "Name" },
  { key: "host", label: "Host" },
  { key: "state", label: "State" },
  { key: "cpu", label: "CPU", numeric: true },
  { key: "cpu_trend", label: "CPU, last hour" },
  { key: "memory", label: "Memory", numeric: true },
  { key: "net", label: "Net rx / tx", numeric: true },
  { key: "block", label: "Block r / w", numeric: true },
  { key: "restarts", label: "Restarts, 24 h", numeric: true },
  { key: "uptime", label: "Uptime", numeric: true },
  { key: "alert", label: "Alert" },
];

export function OverviewView({ params }: { params: URLSearchParams }) {
  const [loaded, reload] = useApi("overview", loadOverview);
  const hostList = loaded.data?.hosts;
  const [details] = useApi(hostList ? `hosts:${hostList.map((host) => host.id).join(",")}` : null, () =>
    loadHostDetails(hostList ?? []),
  );
  const stats = useRef(new Map<string, StatsJson>());
  const liveAlerts = useRef(new Map<string, AlertState>());
  const [liveHosts, setLiveHosts] = useState(new Map<string, { stats: HostStatsJson; load: number[] }>());
  const [tick, setTick] = useState(0);
  const dirty = useRef(false);
  const [status, setStatus] = useState<LiveStatus>("connecting");
  const [nowMs, setNowMs] = useState(Date.now());
  const [agents, setAgents] = useState<AgentJson[]>([]);

  useEffect(() => {
    const subscription = subscribeLive(
      { kinds: ["stats", "host", "alerts", "events"] },
      (kind, data) => {
        if (kind === "stats") {
          const sample = data as StatsJson;
          if (sample.host && sample.container) {
            stats.current.set(containerKey(sample.host, sample.container.external_id), sample);
            dirty.current = true;
          }
        } else if (kind === "host") {
          const sample = data as HostStatsJson;
          if (!sample.host) return;
          const name = sample.host;
          setLiveHosts((previous) => {
            const next = new Map(previous);
            const load = [...(previous.get(name)?.load ?? []), sample.load_1 ?? 0].slice(-SPARKLINE_POINTS);
            next.set(name, { stats: sample, load });
            return next;
          });
        } else if (kind === "alerts") {
          const transition = data as AlertTransitionJson;
          if (transition.container) {
            liveAlerts.current.set(
              containerKey(transition.host, transition.container.external_id),
              transition.new_state,
            );
            dirty.current = true;
          }
        } else if (kind === "events") {
          const event = data as EventJson;
          // A container that starts, dies or appears changes the table: reload it (rarely, not per sample).
          if (["start", "die", "destroy", "create"].includes(event.action)) scheduleReload();
        }
      },
      setStatus,
    );
    return () => subscription.close();
  }, []);

  const reloadTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const scheduleReload = () => {
    if (reloadTimer.current !== undefined) return;
    reloadTimer.current = setTimeout(() => {
      reloadTimer.current = undefined;
      reload();
    }, 3000);
  };
  useEffect(() => () => clearTimeout(reloadTimer.current), []);

  useInterval(() => {
    setNowMs(Date.now());
    if (dirty.current) {
      dirty.current = false;
      setTick((n) => n + 1);
    }
  }, REFRESH_MS);

  const loadAgents = () =>
    api.get<{ data: AgentJson[] }>("/api/v1/agents").then(
      (answer) => setAgents(answer.data),
      () => undefined,
    );
  useEffect(() => void loadAgents(), []);
  useInterval(() => void loadAgents(), 15_000);

  const filters = {
    name: params.get("name") ?? "",
    host: params.get("host") ?? "",
    state: params.get("state") ?? "",
    label: params.get("label") ?? "",
    project: params.get("project") ?? "",
    namespace: params.get("namespace") ?? "",
    group: params.get("group") ?? "",
    sort: (params.get("sort") as SortKey | null) ?? "name",
    desc: params.get("dir") === "desc",
  };
  const selector = parseSelector(filters.label);

  const data = loaded.data;
  const rows = useMemo(() => {
    if (!data) return [];
    const alertOf = (container: ContainerJson): AlertState =>
      liveAlerts.current.get(containerKey(container.host, container.external_id)) ??
      data.alerts.get(container.id) ??
      "normal";
    const filtered = data.containers
      .filter((container) => {
        if (filters.name && !container.name.toLowerCase().includes(filters.name.toLowerCase())) return false;
        if (filters.host && container.host !== filters.host) return false;
        if (filters.state && container.state !== filters.state) return false;
        if (filters.project && container.compose?.project !== filters.project) return false;
        if (filters.namespace && namespaceOf(container.labels) !== filters.namespace) return false;
        if (selector && !matchesSelector(container.labels, selector)) return false;
        return true;
      })
      .map((container) => ({
        container,
        sample: stats.current.get(containerKey(container.host, container.external_id)),
        alert: alertOf(container),
      }));
    const value = (row: Row): number | string => {
      const s = row.sample;
      switch (filters.sort) {
        case "name":
          return row.container.name.toLowerCase();
        case "host":
          return row.container.host;
        case "state":
          return row.container.state;
        case "cpu":
          return s?.cpu_percent ?? -1;
        case "memory":
          return s?.mem_used ?? -1;
        case "net":
          return (s?.net_rx_bytes_per_s ?? -1) + (s?.net_tx_bytes_per_s ?? 0);
        case "block":
          return (s?.blk_read_bytes_per_s ?? -1) + (s?.blk_write_bytes_per_s ?? 0);
        case "restarts":
          return row.container.restarts.count;
        case "uptime":
          return row.container.state === "running" && row.container.started_at
            ? -Date.parse(row.container.started_at)
            : -Infinity;
        case "alert":
          return row.alert === "normal" ? "" : row.alert;
      }
    };
    const direction = filters.desc ? -1 : 1;
    filtered.sort((a, b) => {
      const x = value(a);
      const y = value(b);
      return (x < y ? -1 : x > y ? 1 : a.container.id - b.container.id) * direction;
    });
    if (filters.group !== "project" && filters.group !== "namespace") return filtered;
    const groupOf = (row: Row) =>
      (filters.group === "project" ? row.container.compose?.project : namespaceOf(row.container.labels)) ??
      "";
    const groups = new Map<string, Row[]>();
    for (const row of filtered) groups.set(groupOf(row), [...(groups.get(groupOf(row)) ?? []), row]);
    return [...groups.entries()]
      .sort(([a], [b]) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)))
      .flatMap(([group, members]): (Row | GroupRow)[] => [{ group, count: members.length }, ...members]);
  }, [data, tick, params.toString()]);

  // Sparklines for the running containers the filters show, in one request per 500 of them.
  const trendIds = rows
    .flatMap((row) => ("container" in row && row.container.state === "running" ? [row.container.id] : []))
    .sort((a, b) => a - b);
  const [trendGeneration, setTrendGeneration] = useState(0);
  useInterval(() => setTrendGeneration((n) => n + 1), SPARKLINE_REFRESH_MS);
  const [cpuTrends] = useApi(
    trendIds.length === 0 ? null : `cpu-trends:${trendGeneration}:${trendIds.join(",")}`,
    () => loadCpuSparklines(trendIds),
  );

  const scroller = useRef<HTMLDivElement>(null);
  if (loaded.status === "error" && !data) return <ErrorBox error={loaded.error} what="the overview" />;
  if (!data) return <Loading what="hosts and containers" />;

  const hosts = [
    ...new Set([...data.hosts.map((host) => host.name), ...data.containers.map((c) => c.host)]),
  ].sort();
  const projects = [
    ...new Set(data.containers.flatMap((c) => (c.compose ? [c.compose.project] : []))),
  ].sort();
  const namespaces = [...new Set(data.containers.flatMap((c) => namespaceOf(c.labels) ?? []))].sort();
  const states = [...new Set(data.containers.map((c) => c.state))].sort();
  const set = (key: string, value: string, replace = false) =>
    navigate(withParams({ [key]: value }), { replace });
  const containerCount = rows.filter((row) => "container" in row).length;

  return (
    <>
      <section aria-labelledby="hosts-title">
        <div class="section-head">
          <h1 id="hosts-title">Hosts</h1>
          <span class={`live-status ${status}`} role="status">
            {status === "live" ? "● live" : status === "connecting" ? "connecting…" : "reconnecting…"}
          </span>
        </div>
        {hosts.length === 0 ? (
          <Empty>
            No host has reported yet. Start a collector (docker compose up starts one) and wait a few seconds.
          </Empty>
        ) : (
          <ul class="host-cards">
            {hosts.map((name) => {
              const live = liveHosts.get(name);
              const sample = live?.stats ?? details.data?.hostStats.get(name);
              const load = [...(details.data?.hostLoad.get(name) ?? []), ...(live?.load ?? [])].slice(
                -SPARKLINE_POINTS,
              );
              return (
                <li key={name} class="host-card">
                  <a href={withParams({ host: name }, "/")} class="host-name">
                    {name}
                  </a>
                  <dl>
                    <dt>CPU</dt>
                    <dd>{formatPercent(sample?.cpu_percent)}</dd>
                    <dt>Memory</dt>
                    <dd>
                      {formatBytes(sample?.mem_used)} / {formatBytes(sample?.mem_total)}
                    </dd>
                    <dt>Load</dt>
                    <dd>{sample?.load_1?.toFixed(2) ?? "—"}</dd>
                  </dl>
                  <Sparkline values={load} label={`load of ${name}, last hour`} />
                  <AgentBadges host={name} agents={agents} />
                </li>
              );
            })}
          </ul>
        )}
      </section>

      <section aria-labelledby="containers-title">
        <div class="section-head">
          <h2 id="containers-title">Containers</h2>
          <span class="count">
            {containerCount} of {data.containers.length}
          </span>
        </div>
        <form class="filters" onSubmit={(event) => event.preventDefault()} aria-label="Filter containers">
          <label>
            Name
            <input
              type="search"
              value={filters.name}
              onInput={(e) => set("name", (e.target as HTMLInputElement).value, true)}
            />
          </label>
          <Select label="Host" value={filters.host} options={hosts} onChange={(v) => set("host", v)} />
          <Select label="State" value={filters.state} options={states} onChange={(v) => set("state", v)} />
          <Select
            label="Compose project"
            value={filters.project}
            options={projects}
            onChange={(v) => set("project", v)}
          />
          <Select
            label="Namespace"
            value={filters.namespace}
            options={namespaces}
            onChange={(v) => set("namespace", v)}
          />
          <label>
            Labels
            <input
              type="text"
              placeholder="app=web,tier!=db"
              value={filters.label}
              aria-invalid={selector === undefined}
              onInput={(e) => set("label", (e.target as HTMLInputElement).value, true)}
            />
          </label>
          <label>
            Group by
            <select
              value={filters.group}
              onChange={(e) => set("group", (e.target as HTMLSelectElement).value)}
            >
              <option value="">nothing</option>
              <option value="project">compose project</option>
              <option value="namespace">namespace</option>
            </select>
          </label>
        </form>
        {loaded.status === "error" ? <ErrorBox error={loaded.error} what="the latest containers" /> : null}
        {data.containers.length === 0 ? (
          <Empty>No containers yet. Crowsnest lists them once a collector on their host has reported.</Empty>
        ) : containerCount === 0 ? (
          <Empty>No container matches these filters.</Empty>
        ) : (
          <div class="table-scroll" ref={scroller}>
            <table class="containers">
              <thead>
                <tr>
                  {COLUMNS.map((column) =>
                    column.key === "cpu_trend" ? (
                      <th key={column.key} scope="col">
                        {column.label}
                      </th>
                    ) : (
                      <th
                        key={column.key}
                        scope="col"
                        class={"numeric" in column && column.numeric ? "num" : undefined}
                        aria-sort={
                          filters.sort === column.key ? (filters.desc ? "descending" : "ascending") : "none"
                        }
                      >
                        <button
                          type="button"
                          class="sort"
                          onClick={() =>
                            navigate(
                              withParams({
                                sort: column.key,
                                dir: filters.sort === column.key && !filters.desc ? "desc" : undefined,
                              }),
                              { replace: true },
                            )
                          }
                        >
                          {column.label}
                        </button>
                      </th>
                    ),
                  )}
                </tr>
              </thead>
              <tbody>
                <VirtualRows
                  rows={rows}
                  columns={COLUMNS.length}
                  scroller={scroller}
                  renderRow={(row) =>
                    "group" in row ? (
                      <tr key={`group:${row.group}`} class="group-row">
                        <th colSpan={COLUMNS.length} scope="rowgroup">
                          {row.group ||
                            `(no ${filters.group === "project" ? "compose project" : "namespace"})`}{" "}
                          · {row.count}
                        </th>
                      </tr>
                    ) : (
                      <ContainerRow
                        key={row.container.id}
                        row={row}
                        nowMs={nowMs}
                        cpuTrend={cpuTrends.data?.get(row.container.id)}
                      />
                    )
                  }
                />
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

interface Row {
  container: ContainerJson;
  sample: StatsJson | undefined;
  alert: AlertState;
}
interface GroupRow {
  group: string;
  count: number;
}

function ContainerRow({ row, nowMs, cpuTrend }: { row: Row; nowMs: number; cpuTrend: number[] | undefined }) {
  const { container, sample } = row;
  const memPercent =
    sample?.mem_used != null && sample.mem_limit ? (sample.mem_used / sample.mem_limit) * 100 : undefined;
  const link = `/containers/${container.id}`;
  return (
    <tr data-container={container.name}>
      <td class="name">
        <a href={link} title={container.image ?? undefined}>
          {container.name}
        </a>
      </td>
      <td>{container.host}</td>
      <td>
        <span class={`pill state-${container.state}`}>{container.state}</span>
        {container.health_status ? (
          <span class={`pill health-${container.health_status}`}>{container.health_status}</span>
        ) : null}
      </td>
      <td class="num cpu">{formatPercent(sample?.cpu_percent)}</td>
      <td class="trend">
        <Sparkline values={cpuTrend ?? []} label={`CPU of ${container.name}, last hour`} />
      </td>
      <td class="num">
        {formatBytes(sample?.mem_used)}
        {memPercent !== undefined ? <span class="sub"> {formatPercent(memPercent)}</span> : null}
      </td>
      <td class="num">
        {formatRate(sample?.net_rx_bytes_per_s)} / {formatRate(sample?.net_tx_bytes_per_s)}
      </td>
      <td class="num">
        {formatRate(sample?.blk_read_bytes_per_s)} / {formatRate(sample?.blk_write_bytes_per_s)}
      </td>
      <td
        class={container.restarts.count > 0 ? "num restarts warn" : "num restarts"}
        title={`restarts since ${formatTime(container.restarts.since)}`}
      >
        {container.restarts.count}
      </td>
      <td class="num">
        {container.state === "running" && container.started_at
          ? formatDuration(nowMs - Date.parse(container.started_at))
          : "—"}
      </td>
      <td>
        {row.alert === "normal" ? (
          <span class="muted">ok</span>
        ) : (
          <span class="pill alert">{row.alert.replace("_", " ")}</span>
        )}
      </td>
    </tr>
  );
}

function Select(props: {
  label: string;
  value: string;
  options: string[];
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {props.label}
      <select value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        <option value="">all</option>
        {props.options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    </label>
  );
}

function AgentBadges({ host, agents }: { host: string; agents: AgentJson[] }) {
  return (
    <p class="agents">
      {(["collector", "watcher"] as const).map((service) => {
        const agent = agents.find((a) => a.host === host && a.service === service);
        const state = !agent
          ? "unknown"
          : agent.stale
            ? "stale"
            : agent.connected
              ? "connected"
              : "disconnected";
        return (
          <span
            key={service}
            class={`pill agent-${state}`}
            title={agent ? `${service} ${agent.version}` : undefined}
          >
            {service}: {state === "unknown" ? "not heard from" : state}
          </span>
        );
      })}
    </p>
  );
}
