// The shell: asks the api who this browser is (signed in, read or admin, or no sign-in needed),
// shows the sign-in page when needed, and otherwise the navigation and the view the URL names.
import { useEffect, useState } from "preact/hooks";
import { ApiFailure, api, SESSION_ENDED_EVENT } from "./api.ts";
import type { Scope, SessionJson } from "./api-types.ts";
import { ErrorBox, Loading } from "./components/states.tsx";
import { navigate, onLinkClick, useLocation } from "./routing.ts";
import { AgentsView } from "./views/agents.tsx";
import { AlertsView } from "./views/alerts.tsx";
import { ContainerView } from "./views/container.tsx";
import { EventsView } from "./views/events.tsx";
import { OverviewView } from "./views/overview.tsx";
import { SignInView } from "./views/sign-in.tsx";
import { TopView } from "./views/top.tsx";

const NAV = [
  { path: "/", label: "Overview" },
  { path: "/alerts", label: "Alerts" },
  { path: "/top", label: "Top" },
  { path: "/events", label: "Events" },
  { path: "/agents", label: "Agents" },
];

export function App() {
  const where = useLocation();
  const [session, setSession] = useState<SessionJson | undefined>();
  const [failure, setFailure] = useState<unknown>();
  const [ended, setEnded] = useState(false);

  const loadSession = () =>
    api.get<SessionJson>("/api/v1/session").then(
      (value) => {
        setSession(value);
        setFailure(undefined);
      },
      (error: unknown) => setFailure(error),
    );
  useEffect(() => {
    void loadSession();
    const onEnded = () => {
      setEnded(true);
      setSession((previous) => previous && { ...previous, scope: null });
    };
    window.addEventListener(SESSION_ENDED_EVENT, onEnded);
    return () => window.removeEventListener(SESSION_ENDED_EVENT, onEnded);
  }, []);

  const signedOut = session?.auth_required === true && session.scope === null;
  useEffect(() => {
    if (signedOut && where.path !== "/sign-in") {
      navigate(`/sign-in?next=${encodeURIComponent(where.path + location.search)}`, { replace: true });
    }
  }, [signedOut, where.path]);

  useEffect(() => {
    const title = NAV.find((item) => item.path === where.path)?.label;
    document.title = title ? `${title} · Crowsnest` : "Crowsnest";
  }, [where.path]);

  if (failure) {
    return (
      <main class="page">
        <ErrorBox error={failure} what="the dashboard" />
        <button type="button" onClick={() => void loadSession()}>
          Try again
        </button>
      </main>
    );
  }
  if (!session) return <Loading what="the dashboard" />;

  if (where.path === "/sign-in") {
    return (
      <SignInView
        expired={ended}
        authRequired={session.auth_required}
        onSignedIn={(value) => {
          setEnded(false);
          setSession(value);
          navigate(safeNext(where.params.get("next")), { replace: true });
        }}
      />
    );
  }
  if (signedOut) return <Loading what="the sign-in page" />;

  const signOut = async () => {
    await api.delete("/api/v1/session").catch(() => undefined);
    setSession({ ...session, scope: null, expires_at: null });
  };

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions lint/a11y/useKeyWithClickEvents: delegates link clicks to the router; links stay keyboard links
    <div class="shell" onClick={(event) => onLinkClick(event)}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="/">
          Crowsnest
        </a>
        <nav aria-label="Views">
          {NAV.map((item) => (
            <a
              key={item.path}
              href={item.path}
              aria-current={isCurrent(item.path, where.path) ? "page" : undefined}
            >
              {item.label}
            </a>
          ))}
        </nav>
        <div class="who">
          {session.auth_required ? (
            <>
              <span class="badge" title={session.expires_at ? `until ${session.expires_at}` : undefined}>
                {session.scope === "admin" ? "admin" : "read-only"}
              </span>
              <button type="button" class="link" onClick={() => void signOut()}>
                Sign out
              </button>
            </>
          ) : (
            <span class="badge">no sign-in (auth disabled)</span>
          )}
        </div>
      </header>
      <main id="main" class="page" tabIndex={-1}>
        <View path={where.path} params={where.params} scope={session.scope ?? "read"} />
      </main>
    </div>
  );
}

function isCurrent(item: string, path: string): boolean {
  return item === "/" ? path === "/" || path.startsWith("/containers/") : path.startsWith(item);
}

/** Only a path of this dashboard: `next` comes from the URL, so it could point anywhere. */
function safeNext(next: string | null): string {
  return next?.startsWith("/") && !next.startsWith("//") ? next : "/";
}

function View({ path, params, scope }: { path: string; params: URLSearchParams; scope: Scope }) {
  const container = /^\/containers\/([^/]+)$/.exec(path);
  if (container?.[1])
    return <ContainerView id={decodeURIComponent(container[1])} params={params} scope={scope} />;
  switch (path) {
    case "/":
      return <OverviewView params={params} />;
    case "/alerts":
      return <AlertsView params={params} scope={scope} />;
    case "/top":
      return <TopView params={params} />;
    case "/events":
      return <EventsView params={params} />;
    case "/agents":
      return <AgentsView />;
    default:
      return (
        <ErrorBox error={new ApiFailure(404, "not_found", `There is no page at ${path}.`)} what="this page" />
      );
  }
}
