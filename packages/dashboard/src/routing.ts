// Every view's state lives in the URL (path and query), so a link or a reload shows the same
// page and the back button steps through what the user did. navigate() pushes a new entry,
// replace() changes the current one (typing in a filter should not flood the history).
import { useEffect, useState } from "preact/hooks";

const CHANGED = "crowsnest:location";

export interface Location {
  path: string;
  params: URLSearchParams;
}

const current = (): Location => ({ path: location.pathname, params: new URLSearchParams(location.search) });

export function navigate(url: string, options: { replace?: boolean } = {}): void {
  if (url === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new Event(CHANGED));
}

/** The current URL with some query parameters set (empty or undefined: removed). */
export function withParams(changes: Record<string, string | undefined>, path = location.pathname): string {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined || value === "") params.delete(key);
    else params.set(key, value);
  }
  const search = params.toString();
  return search === "" ? path : `${path}?${search}`;
}

export function useLocation(): Location {
  const [value, setValue] = useState(current);
  useEffect(() => {
    const update = () => setValue(current());
    window.addEventListener("popstate", update);
    window.addEventListener(CHANGED, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(CHANGED, update);
    };
  }, []);
  return value;
}

/** Same-origin links go through navigate() instead of reloading the page. */
export function onLinkClick(event: MouseEvent): void {
  const anchor = (event.target as Element | null)?.closest?.("a");
  if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(anchor.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}
