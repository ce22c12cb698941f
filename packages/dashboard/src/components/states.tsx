// Loading, empty and error states that say what is happening and what to do about it.
import type { ComponentChildren } from "preact";
import { ApiFailure } from "../api.ts";

export function Loading({ what }: { what: string }) {
  return (
    <p class="state loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

/** What to do about a failure, by what the api said. */
function advice(error: unknown): string {
  if (!(error instanceof ApiFailure)) return "Reload the page; if it persists, check the api's log.";
  switch (error.code) {
    case "unreachable":
      return "Is the api running? Start it (docker compose up) and reload.";
    case "unauthorized":
      return "Your session has ended: sign in again.";
    case "forbidden":
      return "This needs an admin session: sign in with an admin token.";
    case "watcher_unavailable":
    case "runtime_unavailable":
      return "The container's host is not answering: check that its watcher is running and connected.";
    case "service_unavailable":
      return "The api cannot reach NATS or Postgres yet; it retries by itself.";
    case "not_found":
    case "no_data":
      return "It may have been removed, or not been reported yet.";
    default:
      return "Reload the page; if it persists, quote the message when reporting it.";
  }
}

export function ErrorBox({ error, what }: { error: unknown; what: string }) {
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div class="state error" role="alert">
      <strong>Could not load {what}.</strong> {message} <span class="advice">{advice(error)}</span>
    </div>
  );
}
