// The dashboard's way to the api: same-origin requests that carry the session cookie, every
// failure turned into an ApiFailure that says what happened, and a signal when the session ends.
import type { ContainerJson } from "./api-types.ts";

export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiFailure";
    this.status = status;
    this.code = code;
  }
}

/** Fired on window when the api answers 401: the session expired or was never there. */
export const SESSION_ENDED_EVENT = "crowsnest:session-ended";

/**
 * Waits before each new attempt of a read whose request never got an answer. Browsers drop open
 * connections when the machine's network changes (Chromium's ERR_NETWORK_CHANGED, e.g. when a
 * container's interface appears on the same machine): a read asked again a moment later is
 * answered. Writes are never repeated: the first may have arrived.
 */
const READ_RETRY_DELAYS_MS = [250, 1000];

async function send(method: string, path: string, body: unknown): Promise<Response> {
  const init: RequestInit = {
    method,
    credentials: "same-origin",
    headers: {
      Accept: "application/json",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
  const retryDelays = method === "GET" ? READ_RETRY_DELAYS_MS : [];
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(path, init);
    } catch {
      const delayMs = retryDelays[attempt];
      if (delayMs === undefined) {
        throw new ApiFailure(
          0,
          "unreachable",
          "The api is not reachable: check that it is running, then reload.",
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await send(method, path, body);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    throw new ApiFailure(
      response.status,
      "bad_response",
      `The api answered ${response.status} with something that is not JSON.`,
    );
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    if (response.status === 401 && path !== "/api/v1/session")
      window.dispatchEvent(new Event(SESSION_ENDED_EVENT));
    throw new ApiFailure(
      response.status,
      error?.code ?? "error",
      error?.message ?? `The api answered ${response.status}.`,
    );
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string) => request<T>("GET", path),
  post: <T>(path: string, body: unknown) => request<T>("POST", path, body),
  put: <T>(path: string, body: unknown) => request<T>("PUT", path, body),
  delete: <T>(path: string) => request<T>("DELETE", path),
};

/** A query string from the set values of `params`. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

/** Every container the api knows, following its pages. */
export async function allContainers(includeGone = false): Promise<ContainerJson[]> {
  const containers: ContainerJson[] = [];
  let cursor: string | null = null;
  do {
    const page: { data: ContainerJson[]; next_cursor: string | null } = await api.get(
      `/api/v1/containers${query({ limit: 500, cursor, include_gone: includeGone || undefined })}`,
    );
    containers.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return containers;
}
