// Answers `<prefix>.v1.rpc.<host>.logs` on a containerd host. containerd has no log API: a
// container's output goes wherever its creator pointed it (a FIFO `ctr` reads, a file, nerdctl's
// logging binary). Every request for a container this host has is answered `logs_unavailable`
// with the reason, never with an empty success that would read as "the container printed
// nothing"; an unknown container is `not_found`, as on every runtime.
import type { Logger, LogsRequest } from "@crowsnest/shared";
import type { ContainerInspector } from "../../rpc/inspect-responder.ts";
import { createLogRequestHandler, type LogsResponder } from "../../rpc/log-request-handling.ts";
import type { RpcConnection } from "../../rpc/rpc-connection.ts";
import { encodeLogsReply, errorReply } from "../../rpc/rpc-replies.ts";

export interface ContainerdLogsResponderOptions {
  inspect: ContainerInspector;
  nc: Pick<RpcConnection, "publish">;
  logger: Logger;
  maxConcurrent: number;
}

export const CONTAINERD_LOGS_UNAVAILABLE =
  "containerd keeps no logs of its own: a container's output goes where its creator sent it (a FIFO read by ctr, a file, nerdctl's log driver), which the watcher cannot read; see docs/containerd.md";

export function createContainerdLogsResponder(options: ContainerdLogsResponderOptions): LogsResponder {
  const { nc } = options;
  return createLogRequestHandler<string>({
    nc,
    logger: options.logger,
    capabilities: { runtime: "containerd", separateStreams: true, exactWindow: false, previous: false },
    maxConcurrent: options.maxConcurrent,
    admit: (request: LogsRequest) => ({ target: request.container }),
    async serve(inbox, _request, container) {
      const found = await options.inspect(container);
      const reply = "ok" in found ? found : errorReply("logs_unavailable", CONTAINERD_LOGS_UNAVAILABLE);
      nc.publish(inbox, encodeLogsReply(reply).data);
    },
  });
}
