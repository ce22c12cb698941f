// How the Docker runtime answers an inspect request: one container, named by id, unique id
// prefix or name (Docker's own lookup), inspected within a deadline and normalized to the
// contract's containerInfo.
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { containerReference } from "../../rpc/container-reference.ts";
import type { ContainerInspector } from "../../rpc/inspect-responder.ts";
import { errorReply } from "../../rpc/rpc-replies.ts";
import { parseContainerInspect } from "./container-inspect-parser.ts";
import type { DockerApi } from "./docker-api.ts";
import { inspectedToContainerInfo } from "./docker-container-mapper.ts";
import { dockerFailureReply } from "./docker-failure-reply.ts";

export interface DockerInspectorOptions {
  docker: Pick<DockerApi, "inspectContainer">;
  /** Deadline of the inspect call. */
  timeoutMs: number;
}

export function createDockerInspector(options: DockerInspectorOptions): ContainerInspector {
  const { docker, timeoutMs } = options;
  return async (container) => {
    const ref = containerReference(container);
    if (ref === undefined) {
      return errorReply("bad_request", `"${container}" is not a container name, id or id prefix`);
    }
    try {
      const json = await withDeadline(`inspecting container ${ref}`, timeoutMs, (signal) =>
        docker.inspectContainer(ref, { signal }),
      );
      const inspected = parseContainerInspect(json);
      if (inspected === undefined) return errorReply("internal", "dockerd answered without a container");
      return inspectedToContainerInfo(inspected);
    } catch (error) {
      return dockerFailureReply(error, ref);
    }
  };
}
