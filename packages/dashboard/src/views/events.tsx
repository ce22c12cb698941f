// Events: every host's lifecycle events, newest first, filtered by host and action, with new
// ones arriving live on top.
import { useEffect, useState } from "preact/hooks";
import { allContainers, api, query } from "../api.ts";
import type { ContainerJson, EventJson } from "../api-types.ts";
import { Empty, ErrorBox, Loading } from "../components/states.tsx";
import { useApi } from "../components/use-api.ts";
import { formatTime } from "../format.ts";
import { type LiveStatus, subscribeLive } from "../live.ts";
import { navigate, withParams } from "../routing.ts";
import { eventDetails, markerOf } from "./container.tsx";

interface Row {
  key: string;
  event: EventJson;
  host: string;
  name: string;
  containerId?: number | undefined;
  externalId?: string | undefined;
}

export function EventsView({ params }: { params: URLSearchParams }) {
  const host = params.get("host") ?? "";
  const action = params.get("action") ?? "";
  const path = `/api/v1/events${query({ host, action, limit: 200 })}`;
  // Events name their container by id: the container list gives its name and host.
  const [loaded] = useApi(path, async () => {
    const [events, containers] = await Promise.all([
      api.get<{ data: EventJson[] }>(path),
      allContainers(true),
    ]);
    return { events: events.data, containers: new Map(containers.map((c) => [c.id, c])) };
  });
  const byRuntimeId = new Map<string, ContainerJson>(
    [...(loaded.data?.containers.values() ?? [])].map((c) => [`${c.host}\u0000${c.external_id}`, c]),
  );
  const [live, setLive] = useState<Row[]>([]);
  const [status, setStatus] = useState<LiveStatus>("connecting");
  useEffect(() => {
    setLive([]);
    const subscription = subscribeLive(
      { kinds: ["events"], ...(host ? { host } : {}) },
      (_kind, data) => {
        const event = data as EventJson & { event_id?: string };
        if (action && event.action !== action) return;
        setLive((rows) =>
          [
            {
              key: event.event_id ?? `${event.ts}-${rows.length}`,
              event,
              host: event.host ?? "",
              name: event.actor?.name ?? "",
              externalId: event.actor?.external_id,
            },
            ...rows,
          ].slice(0, 500),
        );
      },
      setStatus,
    );
    return () => subscription.close();
  }, [host, action]);

  const stored: Row[] = (loaded.data?.events ?? []).map((event) => {
    const container =
      event.container_id === undefined ? undefined : loaded.data?.containers.get(event.container_id);
    return {
      key: String(event.id),
      event,
      host: container?.host ?? "",
      name: container?.name ?? event.attributes.name ?? "",
      containerId: event.container_id,
    };
  });
  const idOf = (row: Row) => row.containerId ?? byRuntimeId.get(`${row.host}\u0000${row.externalId}`)?.id;
  const rows = [...live, ...stored];
  const set = (key: string, value: string) =>
    navigate(withParams({ [key]: value }), { replace: key !== "action" });
  return (
    <>
      <div class="section-head">
        <h1>Events</h1>
        <span class={`live-status ${status}`} role="status">
          {status === "live" ? "● live" : "connecting…"}
        </span>
      </div>
      <form class="filters" aria-label="Filter events" onSubmit={(e) => e.preventDefault()}>
        <label>
          Host
          <input
            type="search"
            value={host}
            onChange={(e) => set("host", (e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Action
          <select value={action} onChange={(e) => set("action", (e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {[
              "start",
              "die",
              "oom",
              "restart",
              "kill",
              "stop",
              "create",
              "destroy",
              "health_status",
              "pause",
              "unpause",
            ].map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
      </form>
      {loaded.status === "error" ? <ErrorBox error={loaded.error} what="the events" /> : null}
      {!loaded.data && loaded.status === "loading" ? (
        <Loading what="the events" />
      ) : rows.length === 0 ? (
        <Empty>
          No events{host || action ? " matching these filters" : " yet"}. New ones appear here as they happen.
        </Empty>
      ) : (
        <table class="events">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Host</th>
              <th scope="col">Container</th>
              <th scope="col">Event</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.key} class={markerOf(row.event)?.tone === "warn" ? "warn" : undefined}>
                <td>{formatTime(row.event.ts)}</td>
                <td>{row.host}</td>
                <td>
                  {idOf(row) !== undefined ? <a href={`/containers/${idOf(row)}`}>{row.name}</a> : row.name}
                </td>
                <td>{row.event.action}</td>
                <td>{eventDetails(row.event)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
