// The RPC error a requester gets when a Docker call for its request failed.
import type { RpcError } from "@crowsnest/shared/agent";
import { errorReply } from "../../rpc/rpc-replies.ts";
import { classifyDockerError, dockerErrorMessage } from "./docker-errors.ts";

export function dockerFailureReply(error: unknown, ref: string): RpcError {
  switch (classifyDockerError(error)) {
    case "not_found":
      return errorReply("not_found", `no container with the name, id or id prefix "${ref}" on this host`);
    case "bad_request":
      // dockerd's own words, e.g. an id prefix that matches several containers.
      return errorReply("bad_request", dockerErrorMessage(error));
    default:
      return errorReply("runtime_unavailable", `dockerd cannot answer: ${dockerErrorMessage(error)}`);
  }
}
