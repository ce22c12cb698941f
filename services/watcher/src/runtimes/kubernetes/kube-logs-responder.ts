// Answers `<prefix>.v1.rpc.<host>.logs` on a Kubernetes host: the container's log read through
// the API server (`pods/<pod>/log`, which the API server fetches from the node's kubelet), with
// the request/reply protocol, chunking, follow probes and limits of Docker's responder (see
// ../rpc/logs-responder.ts). Kubernetes does not keep stdout and stderr apart: every line is
// tagged `stdout`, and a request for stderr alone is refused. `previous` reads the container's
// last terminated instance. Timestamps are always asked for, so `since` and `until` are
// applied exactly (the API server has no `until`, and `sinceTime` is cut to seconds).
import type { Readable } from "node:stream";
import type { Logger, LogsRequest, RpcError } from "@crowsnest/shared/agent";
import { KubeApiError, type KubeClient } from "@crowsnest/shared/kubernetes";
import { createLogLineAssembler } from "../../logs/log-line-assembler.ts";
import { type LogReplyConnection, startLogReply } from "../../rpc/log-reply-sender.ts";
import {
  createLogRequestHandler,
  type LogCapabilities,
  type LogsResponder,
} from "../../rpc/log-request-handling.ts";
import { type LogStreamOptions, logStreamTiming } from "../../rpc/log-stream-control.ts";
import { readLogStreamIntoReply } from "../../rpc/log-stream-reading.ts";
import { errorReply } from "../../rpc/rpc-replies.ts";
import type { KubernetesWatcher } from "./kubernetes-watcher.ts";

export interface KubeLogsResponderOptions extends LogStreamOptions {
  client: Pick<KubeClient, "stream">;
  findContainer: KubernetesWatcher["findContainer"];
  nc: LogReplyConnection;
  logger: Logger;
  /** Deadline of opening the log stream. */
  requestTimeoutMs: number;
}

export function kubeFailureReply(error: unknown, what: string): RpcError {
  if (error instanceof KubeApiError) {
    if (error.status === 404) return errorReply("not_found", `${what}: ${error.message}`);
    // e.g. `previous terminated container "web" in pod "x" not found`, or a container not started yet.
    if (error.status === 400) return errorReply("bad_request", error.message);
  }
  return errorReply(
    "runtime_unavailable",
    `the Kubernetes API server cannot answer: ${String(error instanceof Error ? error.message : error)}`,
  );
}

/** The API server has no `until`, and cuts `sinceTime` to seconds; stdout and stderr come as one. */
export const KUBERNETES_LOG_CAPABILITIES: LogCapabilities = {
  runtime: "Kubernetes",
  separateStreams: false,
  exactWindow: false,
  previous: true,
};

export function createKubeLogsResponder(options: KubeLogsResponderOptions): LogsResponder {
  const { nc, logger } = options;
  const timing = logStreamTiming(options);
  const serve = async (inbox: string, request: LogsRequest, stopped: AbortSignal): Promise<void> => {
    const { log, control, sender } = startLogReply({
      nc,
      logger,
      timing,
      inbox,
      container: request.container,
      follow: request.follow,
      stopped,
    });
    const found = options.findContainer(request.container);
    if (found === undefined) {
      await sender.fail(
        errorReply(
          "not_found",
          `no container "${request.container}" on this host (namespace/pod/container or pod/container)`,
        ),
      );
      return;
    }
    if (found === "ambiguous") {
      await sender.fail(
        errorReply(
          "bad_request",
          `"${request.container}" names containers in several namespaces; use namespace/pod/container`,
        ),
      );
      return;
    }
    const { pod, container } = found;
    let body: Readable;
    try {
      body = await options.client.stream(
        `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}/log`,
        {
          query: {
            container,
            timestamps: true,
            follow: request.follow,
            previous: request.previous === true ? true : undefined,
            tailLines: request.tail,
            sinceTime: request.since ?? undefined,
          },
          timeoutMs: options.requestTimeoutMs,
          signal: stopped,
        },
      );
    } catch (error) {
      await sender.fail(kubeFailureReply(error, `the logs of ${found.info.external_id}`));
      return;
    }
    await readLogStreamIntoReply({
      source: body,
      assembler: createLogLineAssembler({ tty: true, timestamps: true }),
      control,
      sender,
      request,
      options,
      log,
      slowRuntime: "the Kubernetes API server",
      capabilities: KUBERNETES_LOG_CAPABILITIES,
      // Every line is read with its time (for the window); it is sent with it only when asked.
      shape: (line) => ({ stream: "stdout", ts: request.timestamps ? line.ts : null, text: line.text }),
      // After `until` passed, the held-back partial line is past it too.
      sendsPartialLine: (ended) => ended === "stream_ended",
      describeError: String,
    });
  };

  return createLogRequestHandler<undefined>({
    nc,
    logger,
    maxConcurrent: options.maxConcurrent,
    capabilities: KUBERNETES_LOG_CAPABILITIES,
    admit: () => ({ target: undefined }),
    serve: (inbox, request, _target, stopped) => serve(inbox, request, stopped),
  });
}
