// Top: the heaviest containers by a metric, now or averaged over a period, linked to their pages.
import { api, query } from "../api.ts";
import type { TopJson } from "../api-types.ts";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { useApi } from "../components/use-api.ts";
import { formatBytes, formatPercent, formatRate } from "../format.ts";
import { navigate, withParams } from "../routing.ts";

const METRICS = { cpu: "CPU", memory: "Memory", network: "Network", block_io: "Block I/O" } as const;
const PERIODS = ["now", "1h", "6h", "24h", "7d", "30d", "90d"];

export function TopView({ params }: { params: URLSearchParams }) {
  const metric = (params.get("metric") ?? "cpu") as keyof typeof METRICS;
  const period = params.get("period") ?? "now";
  const path = `/api/v1/top${query({ metric, period, limit: 50 })}`;
  const [loaded] = useApi(path, () => api.get<TopJson>(path));
  const format = (value: number | null) =>
    loaded.data?.unit === "percent_of_core"
      ? formatPercent(value)
      : loaded.data?.unit === "bytes"
        ? formatBytes(value)
        : formatRate(value);
  return (
    <>
      <h1>Top consumers</h1>
      <form class="filters" aria-label="What to rank by" onSubmit={(e) => e.preventDefault()}>
        <label>
          Metric
          <select
            value={metric}
            onChange={(e) => navigate(withParams({ metric: (e.target as HTMLSelectElement).value }))}
          >
            {Object.entries(METRICS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Period
          <select
            value={period}
            onChange={(e) => navigate(withParams({ period: (e.target as HTMLSelectElement).value }))}
          >
            {PERIODS.map((value) => (
              <option key={value} value={value}>
                {value === "now" ? "now (newest sample)" : `average over ${value}`}
              </option>
            ))}
          </select>
        </label>
      </form>
      {loaded.status === "error" ? <ErrorBox error={loaded.error} what="the ranking" /> : null}
      {!loaded.data ? (
        <Loading what="the ranking" />
      ) : loaded.data.data.length === 0 ? (
        <Empty>No samples in this period yet.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Container</th>
              <th scope="col">Host</th>
              <th scope="col" class="num">
                {period === "now" ? "Value" : "Average"}
              </th>
              <th scope="col" class="num">
                Max
              </th>
              <th scope="col" class="num">
                % of limit
              </th>
            </tr>
          </thead>
          <tbody>
            {loaded.data.data.map((row) => (
              <tr key={row.container_id}>
                <td>{row.rank}</td>
                <td>
                  <a href={`/containers/${row.container_id}`}>{row.name}</a>
                </td>
                <td>{row.host}</td>
                <td class="num">{format(row.value)}</td>
                <td class="num">{format(row.max)}</td>
                <td class="num">{formatPercent(row.percent_of_limit)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
