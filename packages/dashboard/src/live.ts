// The live stream (GET /api/v1/stream) as the views use it: one EventSource per subscription,
// which the browser reconnects with Last-Event-ID by itself (the api resumes right after it), and
// a connection state a view can show.
export type LiveKind = "stats" | "host" | "events" | "alerts";
export type LiveStatus = "connecting" | "live" | "reconnecting";

export interface LiveSubscription {
  close(): void;
}

export function subscribeLive(
  options: { kinds: readonly LiveKind[]; host?: string; container?: string },
  onMessage: (kind: LiveKind, data: unknown) => void,
  onStatus: (status: LiveStatus) => void = () => undefined,
): LiveSubscription {
  const params = new URLSearchParams({ kinds: options.kinds.join(",") });
  if (options.host) params.set("host", options.host);
  if (options.container) params.set("container", options.container);
  const source = new EventSource(`/api/v1/stream?${params}`);
  onStatus("connecting");
  source.addEventListener("ready", () => onStatus("live"));
  for (const kind of options.kinds) {
    source.addEventListener(kind, (event) => {
      try {
        onMessage(kind, JSON.parse((event as MessageEvent<string>).data));
      } catch {
        // A message that is not JSON is skipped; the api sends none.
      }
    });
  }
  source.addEventListener("error", () => onStatus("reconnecting"));
  return { close: () => source.close() };
}
