// Answers `<prefix>.v1.rpc.<host>.inspect`: one container, named by id, unique id prefix or
// name (Docker's own lookup), normalized to the contract's containerInfo.
import { codecs, type InspectReply, type Logger } from "@crowsnest/shared";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { parseContainerInspect } from "../docker/container-inspect-parser.ts";
import type { DockerApi } from "../docker/docker-api.ts";
import { inspectedToContainerInfo } from "../inventory/docker-container-mapper.ts";
import { containerReference } from "./container-reference.ts";
import { dockerFailureReply } from "./docker-failure-reply.ts";
import type { RpcConnection, RpcMessage } from "./rpc-connection.ts";
import { errorReply } from "./rpc-replies.ts";

export interface InspectResponderOptions {
  docker: Pick<DockerApi, "inspectContainer">;
  nc: Pick<RpcConnection, "publish">;
  logger: Logger;
  /** Deadline of the inspect call. */
  timeoutMs: number;
  /** Inspects in progress at once; one more is answered `runtime_unavailable`. */
  maxConcurrent?: number;
}

export type InspectResponder = (message: RpcMessage) => Promise<void>;

export function createInspectResponder(options: InspectResponderOptions): InspectResponder {
  const { docker, nc, logger, timeoutMs } = options;
  const maxConcurrent = options.maxConcurrent ?? 32;
  let active = 0;

  const answer = async (data: Uint8Array): Promise<InspectReply> => {
    const decoded = codecs.inspectRequest.decode(data);
    if (!decoded.ok) return errorReply("bad_request", `not an inspect request: ${decoded.detail}`);
    const ref = containerReference(decoded.value.container);
    if (ref === undefined) {
      return errorReply(
        "bad_request",
        `"${decoded.value.container}" is not a container name, id or id prefix`,
      );
    }
    if (active >= maxConcurrent) {
      return errorReply("runtime_unavailable", `${maxConcurrent} inspect requests in progress; try again`);
    }
    active += 1;
    try {
      const json = await withDeadline(`inspecting container ${ref}`, timeoutMs, (signal) =>
        docker.inspectContainer(ref, { signal }),
      );
      const inspected = parseContainerInspect(json);
      if (inspected === undefined) return errorReply("internal", "dockerd answered without a container");
      return { v: 1, ok: true, container: inspectedToContainerInfo(inspected) };
    } catch (error) {
      return dockerFailureReply(error, ref);
    } finally {
      active -= 1;
    }
  };

  return async (message) => {
    if (message.reply === undefined || message.reply === "") {
      logger.warn({ subject: message.subject }, "inspect request without a reply subject dropped");
      return;
    }
    const reply = await answer(message.data);
    let encoded = codecs.inspectReply.encode(reply);
    if (!encoded.ok) {
      logger.error({ detail: encoded.detail }, "inspect reply failed validation");
      encoded = codecs.inspectReply.encode(errorReply("internal", "the watcher produced an invalid reply"));
    }
    if (!reply.ok)
      logger.debug({ code: reply.error.code, message: reply.error.message }, "inspect request refused");
    if (encoded.ok) nc.publish(message.reply, encoded.data);
  };
}
