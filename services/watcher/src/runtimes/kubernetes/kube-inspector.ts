// How the Kubernetes runtime answers an inspect request: from the pod informer's cache, the
// container (named `namespace/pod/container`, or `pod/container` when unique) as the contract's
// containerInfo, the same entry the inventory carries.
import type { ContainerInspector } from "../../rpc/inspect-responder.ts";
import { errorReply } from "../../rpc/rpc-replies.ts";
import type { KubernetesWatcher } from "./kubernetes-watcher.ts";

export function createKubeInspector(findContainer: KubernetesWatcher["findContainer"]): ContainerInspector {
  return async (container) => {
    const found = findContainer(container);
    if (found === undefined) {
      return errorReply(
        "not_found",
        `no container "${container}" on this host (namespace/pod/container or pod/container)`,
      );
    }
    if (found === "ambiguous") {
      return errorReply(
        "bad_request",
        `"${container}" names containers in several namespaces; use namespace/pod/container`,
      );
    }
    return found.info;
  };
}
