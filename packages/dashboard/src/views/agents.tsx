// Agents: every host's services from their heartbeats — version, runtime, whether they reach
// their runtime or database — with stale ones (no heartbeat for two intervals) highlighted.
import { api } from "../api.ts";
import type { AgentJson } from "../api-types.ts";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { useApi, useInterval } from "../components/use-api.ts";
import { formatAgo } from "../format.ts";

export function AgentsView() {
  const [loaded, reload] = useApi("agents", () => api.get<{ data: AgentJson[] }>("/api/v1/agents"));
  useInterval(reload, 10_000);
  const nowMs = Date.now();
  const agents = [...(loaded.data?.data ?? [])].sort(
    (a, b) => a.host.localeCompare(b.host) || a.service.localeCompare(b.service),
  );
  return (
    <>
      <h1>Agents</h1>
      {loaded.status === "error" ? <ErrorBox error={loaded.error} what="the agents" /> : null}
      {!loaded.data ? (
        <Loading what="the agents" />
      ) : agents.length === 0 ? (
        <Empty>
          No service has sent a heartbeat to this api yet (it lists those heard since it started).
        </Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Host</th>
              <th scope="col">Service</th>
              <th scope="col">Version</th>
              <th scope="col">Runtime</th>
              <th scope="col">Connected</th>
              <th scope="col">Last heartbeat</th>
              <th scope="col">Up since</th>
            </tr>
          </thead>
          <tbody>
            {agents.map((agent) => (
              <tr key={`${agent.host}:${agent.service}`} class={agent.stale ? "warn" : undefined}>
                <td>{agent.host}</td>
                <td>{agent.service}</td>
                <td class="mono">{agent.version}</td>
                <td>{agent.runtime ?? "—"}</td>
                <td>{agent.connected ? "yes" : <span class="pill alert">no</span>}</td>
                <td>
                  {formatAgo(agent.ts, nowMs)}
                  {agent.stale ? <span class="pill alert"> stale</span> : null}
                </td>
                <td>{formatAgo(agent.started_at, nowMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
