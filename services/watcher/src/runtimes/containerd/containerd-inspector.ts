// How the containerd runtime answers an inspect request: a fresh look at the containers (two
// requests per namespace), then the container named by its bus id (`namespace/id`, or the id in
// the default namespace), by its name (nerdctl's), or by a unique id prefix, as Docker finds them.
import type { ContainerObserver } from "../../following/runtime-event-source.ts";
import type { ContainerInspector } from "../../rpc/inspect-responder.ts";
import { errorReply } from "../../rpc/rpc-replies.ts";

export function createContainerdInspector(observe: ContainerObserver): ContainerInspector {
  return async (reference) => {
    let observed: Awaited<ReturnType<ContainerObserver>>;
    try {
      observed = await observe();
    } catch (error) {
      return errorReply(
        "runtime_unavailable",
        `containerd cannot answer: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const infos = observed.map((container) => container.info);
    const exact = infos.find((info) => info.external_id === reference);
    if (exact !== undefined) return exact;
    const named = infos.filter((info) => info.name === reference);
    const candidates =
      named.length > 0 ? named : infos.filter((info) => info.external_id.startsWith(reference));
    if (candidates.length === 1 && candidates[0] !== undefined) return candidates[0];
    if (candidates.length > 1) {
      return errorReply(
        "bad_request",
        `"${reference}" names ${candidates.length} containers; use the id (namespace/id outside the default namespace)`,
      );
    }
    return errorReply("not_found", `no container "${reference}" on this host`);
  };
}
