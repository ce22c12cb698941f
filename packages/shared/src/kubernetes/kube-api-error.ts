// The one error the Kubernetes client throws for an answer the API server gave (or failed to
// give properly): its HTTP status, the Status object's machine-readable reason (`Expired` for a
// watch whose resourceVersion is too old, `NotFound`, `Forbidden`...) and its message.
import { CrowsnestError } from "../errors/crowsnest-error.ts";
import { isJsonObject } from "../util/json-fields.ts";

/** Reason given to a response that could not be understood (bad JSON, wrong shape). */
export const MALFORMED_RESPONSE = "MalformedResponse";

export class KubeApiError extends CrowsnestError {
  /** The HTTP status, or the Status object's `code` for an error sent inside a watch stream. */
  readonly status: number;
  /** Status `reason`, e.g. `Expired`, `Gone`, `NotFound`, `Forbidden`; null when the server gave none. */
  readonly reason: string | null;

  constructor(status: number, reason: string | null, message: string, options?: ErrorOptions) {
    super("kube_api_error", message, options);
    this.status = status;
    this.reason = reason;
  }

  /** 410 Gone / `Expired`: the resourceVersion asked for is no longer in the server's history. */
  get isGone(): boolean {
    return this.status === 410 || this.reason === "Expired" || this.reason === "Gone";
  }
}

/**
 * The error a `Status` object describes (`kind: Status` in an error body or a watch `ERROR`
 * event); `fallbackStatus` and `fallbackText` stand in for what the object lacks.
 */
export function kubeApiErrorFromStatus(
  body: unknown,
  fallbackStatus: number,
  fallbackText: string,
  what: string,
): KubeApiError {
  const code = isJsonObject(body) && typeof body.code === "number" ? body.code : fallbackStatus;
  const reason =
    isJsonObject(body) && typeof body.reason === "string" && body.reason !== "" ? body.reason : null;
  const detail =
    isJsonObject(body) && typeof body.message === "string" && body.message !== ""
      ? body.message
      : fallbackText.slice(0, 500) || `HTTP ${code}`;
  return new KubeApiError(code, reason, `${what}: ${detail}`);
}
