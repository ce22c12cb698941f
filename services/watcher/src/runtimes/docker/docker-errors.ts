// How a failed Docker API call is told apart: the container is not there, dockerd refused the
// request as malformed, or dockerd could not be reached or did not answer in time. Requesters
// of the watcher's RPC get a different error code for each.
import { CrowsnestError } from "@crowsnest/shared/agent";

export class DockerNotFoundError extends CrowsnestError {
  readonly ref: string;
  constructor(ref: string, options?: ErrorOptions) {
    super("docker_not_found", `no such container: ${ref}`, options);
    this.ref = ref;
  }
}

export type DockerFailureKind = "not_found" | "bad_request" | "unavailable";

function statusCodeOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("statusCode" in error)) return undefined;
  return typeof error.statusCode === "number" ? error.statusCode : undefined;
}

/** docker-modem puts dockerd's own message in `json.message`; its Error message is wordier. */
export function dockerErrorMessage(error: unknown): string {
  if (typeof error === "object" && error !== null && "json" in error) {
    const json = error.json;
    if (typeof json === "object" && json !== null && "message" in json && typeof json.message === "string") {
      return json.message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

// Docker 20.10 answers an id prefix of several containers with a 500 and this message.
const AMBIGUOUS_PREFIX = /multiple IDs found with provided prefix/i;

export function classifyDockerError(error: unknown): DockerFailureKind {
  if (error instanceof DockerNotFoundError) return "not_found";
  const status = statusCodeOf(error);
  if (status === 404) return "not_found";
  // 400: a malformed parameter (newer dockerd also says so for an ambiguous prefix).
  if (status === 400) return "bad_request";
  if (status !== undefined && AMBIGUOUS_PREFIX.test(dockerErrorMessage(error))) return "bad_request";
  // Anything else, connection refused, a socket that is gone, a timeout, a 5xx: dockerd cannot
  // serve the request right now.
  return "unavailable";
}
