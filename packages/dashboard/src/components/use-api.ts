// Loads what a view shows from the api, again whenever its key (the URL of the request) changes,
// and once more on reload(). Answers that arrive after the key moved on are dropped.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export type Loaded<T> =
  | { status: "loading"; data?: T | undefined }
  | { status: "ok"; data: T }
  | { status: "error"; error: unknown; data?: T | undefined };

export function useApi<T>(key: string | null, load: () => Promise<T>): [Loaded<T>, () => void] {
  const [state, setState] = useState<Loaded<T>>({ status: "loading" });
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    if (key === null) return;
    let current = true;
    setState((previous) => ({ status: "loading", data: previous.data }));
    loadRef.current().then(
      (data) => current && setState({ status: "ok", data }),
      (error: unknown) =>
        current && setState((previous) => ({ status: "error", error, data: previous.data })),
    );
    return () => {
      current = false;
    };
  }, [key, generation]);
  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  return [state, reload];
}

/** Calls `tick` every `intervalMs` while the view is shown. */
export function useInterval(tick: () => void, intervalMs: number): void {
  const tickRef = useRef(tick);
  tickRef.current = tick;
  useEffect(() => {
    const timer = setInterval(() => tickRef.current(), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
}
