// Answers `<prefix>.v1.rpc.<host>.inspect` for every runtime alike: a reply subject, a valid
// request, a bound on inspections at once, and an answer that has passed the contract's schema
// (an invalid one becomes an `internal` error rather than silence). How a container is found and
// described is the runtime's (a ContainerInspector).
import {
  type ContainerInfo,
  checkedEncoders,
  type InspectReply,
  type Logger,
  type RpcError,
} from "@crowsnest/shared/agent";
import type { RpcConnection, RpcMessage } from "./rpc-connection.ts";
import { errorReply } from "./rpc-replies.ts";
import { requestCodecs } from "./rpc-request-codecs.ts";

/** One container described as the contract's containerInfo, or why it cannot be. */
export type ContainerInspector = (reference: string) => Promise<ContainerInfo | RpcError>;

export type InspectResponder = (message: RpcMessage) => Promise<void>;

export interface InspectResponderOptions {
  inspect: ContainerInspector;
  nc: Pick<RpcConnection, "publish">;
  logger: Logger;
  /** Inspects in progress at once; one more is answered `runtime_unavailable`. */
  maxConcurrent?: number;
}

export function createInspectResponder(options: InspectResponderOptions): InspectResponder {
  const { nc, logger } = options;
  const maxConcurrent = options.maxConcurrent ?? 32;
  let active = 0;

  const answer = async (data: Uint8Array): Promise<InspectReply> => {
    const decoded = (await requestCodecs()).inspectRequest.decode(data);
    if (!decoded.ok) return errorReply("bad_request", `not an inspect request: ${decoded.detail}`);
    if (active >= maxConcurrent) {
      return errorReply("runtime_unavailable", `${maxConcurrent} inspect requests in progress; try again`);
    }
    active += 1;
    try {
      const found = await options.inspect(decoded.value.container);
      return "ok" in found ? found : { v: 1, ok: true, container: found };
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
    let encoded = checkedEncoders.inspectReply.encode(reply);
    if (!encoded.ok) {
      logger.error({ detail: encoded.detail }, "inspect reply failed validation");
      encoded = checkedEncoders.inspectReply.encode(
        errorReply("internal", "the watcher produced an invalid reply"),
      );
    }
    if (!reply.ok)
      logger.debug({ code: reply.error.code, message: reply.error.message }, "inspect request refused");
    if (encoded.ok) nc.publish(message.reply, encoded.data);
  };
}
