// Answers `<prefix>.v1.rpc.<host>.inspect` on a Kubernetes host from the pod informer's cache:
// the container (named `namespace/pod/container`, or `pod/container` when unique) as the
// contract's containerInfo, the same entry the inventory carries.
import { codecs, type InspectReply, type Logger } from "@crowsnest/shared";
import type { InspectResponder } from "../rpc/inspect-responder.ts";
import type { RpcConnection } from "../rpc/rpc-connection.ts";
import { errorReply } from "../rpc/rpc-replies.ts";
import type { KubernetesWatcher } from "./kubernetes-watcher.ts";

export interface KubeInspectResponderOptions {
  findContainer: KubernetesWatcher["findContainer"];
  nc: Pick<RpcConnection, "publish">;
  logger: Logger;
}

export function createKubeInspectResponder(options: KubeInspectResponderOptions): InspectResponder {
  const { nc, logger } = options;
  const answer = (data: Uint8Array): InspectReply => {
    const decoded = codecs.inspectRequest.decode(data);
    if (!decoded.ok) return errorReply("bad_request", `not an inspect request: ${decoded.detail}`);
    const found = options.findContainer(decoded.value.container);
    if (found === undefined) {
      return errorReply(
        "not_found",
        `no container "${decoded.value.container}" on this host (namespace/pod/container or pod/container)`,
      );
    }
    if (found === "ambiguous") {
      return errorReply(
        "bad_request",
        `"${decoded.value.container}" names containers in several namespaces; use namespace/pod/container`,
      );
    }
    return { v: 1, ok: true, container: found.info };
  };
  return async (message) => {
    if (message.reply === undefined || message.reply === "") {
      logger.warn({ subject: message.subject }, "inspect request without a reply subject dropped");
      return;
    }
    let encoded = codecs.inspectReply.encode(answer(message.data));
    if (!encoded.ok) {
      logger.error({ detail: encoded.detail }, "inspect reply failed validation");
      encoded = codecs.inspectReply.encode(errorReply("internal", "the watcher produced an invalid reply"));
    }
    if (encoded.ok) nc.publish(message.reply, encoded.data);
  };
}
