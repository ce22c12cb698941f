// The subset of a Kubernetes API client the collector needs: GET a path of the API server and
// get its JSON back. The shared client (`@crowsnest/shared/kubernetes`, whose KubeApiError
// carries `status`) satisfies it in production; unit tests pass plain objects. A failed call rejects with an error that carries the
// HTTP status when the server answered, which is how a missing or forbidden endpoint (the node
// proxy, metrics.k8s.io) is told from an unreachable server.
export interface KubernetesApiPort {
  /** GETs `path` with `query` and resolves with the parsed JSON body of a 2xx answer. */
  getJson(
    path: string,
    options: { query?: Readonly<Record<string, string>>; signal: AbortSignal },
  ): Promise<unknown>;
}

/** The HTTP status an API call failed with, when the error carries one (`status` or `statusCode`). */
export function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  for (const key of ["status", "statusCode"] as const) {
    const value = (error as Record<string, unknown>)[key];
    if (typeof value === "number" && Number.isInteger(value) && value >= 100 && value <= 599) return value;
  }
  return undefined;
}
