// Sign-in: a read or admin token, given once; the api answers with an HttpOnly session cookie,
// so the token is not kept by the page (nor in the browser's storage).
import { useState } from "preact/hooks";
import { ApiFailure, api } from "../api.ts";
import type { SessionJson } from "../api-types.ts";

export function SignInView(props: {
  expired: boolean;
  authRequired: boolean;
  onSignedIn: (session: SessionJson) => void;
}) {
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | undefined>();

  if (!props.authRequired) {
    return (
      <main class="signin">
        <h1>Crowsnest</h1>
        <p>This api serves without tokens: there is nothing to sign in to.</p>
        <a href="/">Open the overview</a>
      </main>
    );
  }

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      const session = await api.post<SessionJson>("/api/v1/session", { token: token.trim() });
      setToken("");
      props.onSignedIn(session);
    } catch (error) {
      setProblem(
        error instanceof ApiFailure && error.status === 401
          ? "That token is not valid. Use one of CROWSNEST_API_READ_TOKENS or CROWSNEST_API_ADMIN_TOKENS."
          : error instanceof Error
            ? error.message
            : String(error),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin">
      <h1>Crowsnest</h1>
      {props.expired ? (
        <p class="state error" role="alert">
          Your session has ended. Sign in again to go on.
        </p>
      ) : null}
      <form onSubmit={(event) => void submit(event)}>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          value={token}
          onInput={(event) => setToken((event.target as HTMLInputElement).value)}
          aria-describedby="token-help"
        />
        <p id="token-help" class="help">
          A read token shows everything; an admin token can also change alert settings. The browser keeps a
          session cookie, not the token.
        </p>
        {problem ? (
          <p class="state error" role="alert">
            {problem}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
