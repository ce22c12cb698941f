// A container's logs from its host's watcher: the last lines, or followed live; stdout/stderr
// filter, timestamps, search with highlighted matches, and a download of what is shown.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiFailure, api, query } from "../api.ts";
import type { ContainerJson, LogLineJson } from "../api-types.ts";
import { Empty, ErrorBox } from "../components/states.tsx";
import { formatTime } from "../format.ts";
import { navigate, withParams } from "../routing.ts";

const MAX_LINES = 5000;
type StreamFilter = "both" | "stdout" | "stderr";

export function LogsPanel({ container, params }: { container: ContainerJson; params: URLSearchParams }) {
  const stream = (params.get("logs") ?? "both") as StreamFilter;
  const follow = params.get("follow") === "1";
  const timestamps = params.get("timestamps") !== "0";
  const tail = Number(params.get("tail") ?? 200) || 200;
  const search = params.get("q") ?? "";
  const [lines, setLines] = useState<LogLineJson[]>([]);
  const [state, setState] = useState<
    { status: "loading" | "ok" | "following" | "ended"; note?: string } | { status: "error"; error: unknown }
  >({
    status: "loading",
  });
  const [generation, setGeneration] = useState(0);
  const base = `/api/v1/containers/${container.id}/logs`;

  useEffect(() => {
    setLines([]);
    setState({ status: "loading" });
    const common = { tail, timestamps: true, stream };
    if (!follow) {
      let current = true;
      api.get<{ lines: LogLineJson[] }>(`${base}${query(common)}`).then(
        (answer) => {
          if (!current) return;
          setLines(answer.lines);
          setState({ status: "ok" });
        },
        (error: unknown) => current && setState({ status: "error", error }),
      );
      return () => {
        current = false;
      };
    }
    const source = new EventSource(`${base}${query({ ...common, follow: true })}`);
    source.addEventListener("open", () => setState({ status: "following" }));
    source.addEventListener("line", (event) => {
      const line = JSON.parse((event as MessageEvent<string>).data) as LogLineJson;
      setLines((list) => (list.length >= MAX_LINES ? [...list.slice(1 - MAX_LINES), line] : [...list, line]));
    });
    source.addEventListener("end", () => {
      source.close();
      setState({
        status: "ended",
        note: "The log stream ended (the container stopped, or its watcher went away).",
      });
    });
    source.addEventListener("error", (event) => {
      const data = (event as MessageEvent<string>).data;
      if (typeof data === "string") {
        // The api's own `error` event: the watcher failed; not retried by the browser.
        source.close();
        const detail = JSON.parse(data) as { code?: string; message?: string };
        setState({
          status: "error",
          error: new ApiFailure(
            503,
            detail.code ?? "watcher_unavailable",
            detail.message ?? "the logs stream failed",
          ),
        });
      } else if (source.readyState === EventSource.CLOSED) {
        setState({
          status: "error",
          error: new ApiFailure(503, "watcher_unavailable", "The logs stream could not be opened."),
        });
      }
    });
    return () => source.close();
  }, [container.id, stream, follow, tail, generation]);

  const scroller = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = scroller.current;
    if (follow && element) element.scrollTop = element.scrollHeight;
  }, [lines, follow]);

  const matches = useMemo(() => {
    if (!search) return 0;
    const needle = search.toLowerCase();
    return lines.filter((line) => line.text.toLowerCase().includes(needle)).length;
  }, [lines, search]);

  const set = (changes: Record<string, string | undefined>, replace = true) =>
    navigate(withParams(changes), { replace });
  const download = () => {
    const text = lines.map((line) => `${line.ts ?? ""} ${line.stream} ${line.text}`).join("\n");
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const anchor = document.createElement("a");
    anchor.href = url;
    anchor.download = `${container.name}.log`;
    anchor.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <section aria-labelledby="logs-title" class="logs">
      <div class="section-head">
        <h2 id="logs-title">Logs</h2>
        <span class="muted" role="status">
          {state.status === "following" ? "● following" : state.status === "loading" ? "loading…" : ""}
          {search ? ` · ${matches} matching line${matches === 1 ? "" : "s"}` : ""}
        </span>
      </div>
      <form class="filters" onSubmit={(event) => event.preventDefault()} aria-label="Log options">
        <label>
          Stream
          <select
            value={stream}
            onChange={(e) =>
              set(
                {
                  logs:
                    (e.target as HTMLSelectElement).value === "both"
                      ? undefined
                      : (e.target as HTMLSelectElement).value,
                },
                false,
              )
            }
          >
            <option value="both">stdout and stderr</option>
            <option value="stdout">stdout</option>
            <option value="stderr">stderr</option>
          </select>
        </label>
        <label>
          Lines
          <select
            value={String(tail)}
            onChange={(e) => set({ tail: (e.target as HTMLSelectElement).value }, false)}
          >
            {[100, 200, 1000, 5000].map((n) => (
              <option key={n} value={String(n)}>
                last {n}
              </option>
            ))}
          </select>
        </label>
        <label>
          Search
          <input
            type="search"
            value={search}
            onInput={(e) => set({ q: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label class="check">
          <input
            type="checkbox"
            checked={follow}
            onChange={(e) => set({ follow: (e.target as HTMLInputElement).checked ? "1" : undefined }, false)}
          />
          Follow
        </label>
        <label class="check">
          <input
            type="checkbox"
            checked={timestamps}
            onChange={(e) => set({ timestamps: (e.target as HTMLInputElement).checked ? undefined : "0" })}
          />
          Timestamps
        </label>
        <button type="button" onClick={() => setGeneration((n) => n + 1)}>
          Reload
        </button>
        <button type="button" onClick={download} disabled={lines.length === 0}>
          Download
        </button>
      </form>
      {state.status === "error" ? <ErrorBox error={state.error} what="the logs" /> : null}
      {state.status === "ended" ? <p class="muted">{state.note}</p> : null}
      {lines.length === 0 && (state.status === "ok" || state.status === "following") ? (
        <Empty>
          {follow ? "Waiting for the container to print something…" : "The container has printed nothing."}
        </Empty>
      ) : null}
      {lines.length > 0 ? (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region takes focus so the keyboard can scroll it
        <div class="log-lines" ref={scroller} tabIndex={0} role="log" aria-label="Log lines">
          {lines.map((line, index) => (
            <div key={index} class={`log-line ${line.stream}`}>
              {timestamps && line.ts ? <span class="ts">{formatTime(line.ts)}</span> : null}
              <Highlighted text={line.text} search={search} />
            </div>
          ))}
        </div>
      ) : null}
    </section>
  );
}

function Highlighted({ text, search }: { text: string; search: string }) {
  if (!search) return <span>{text}</span>;
  const parts: (string | { match: string })[] = [];
  const lower = text.toLowerCase();
  const needle = search.toLowerCase();
  let at = 0;
  for (let found = lower.indexOf(needle); found !== -1; found = lower.indexOf(needle, at)) {
    if (found > at) parts.push(text.slice(at, found));
    parts.push({ match: text.slice(found, found + needle.length) });
    at = found + needle.length;
  }
  parts.push(text.slice(at));
  return (
    <span>
      {parts.map((part, index) => (typeof part === "string" ? part : <mark key={index}>{part.match}</mark>))}
    </span>
  );
}
