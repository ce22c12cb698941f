// Answers `<prefix>.v1.rpc.<host>.logs` on a Kubernetes host: the container's log read through
// the API server (`pods/<pod>/log`, which the API server fetches from the node's kubelet), with
// the request/reply protocol, chunking, follow probes and limits of Docker's responder (see
// ../rpc/logs-responder.ts). Kubernetes does not keep stdout and stderr apart: every line is
// tagged `stdout`, and a request for stderr alone is refused. `previous` reads the container's
// last terminated instance. Timestamps are always asked for, so `since` and `until` are
// applied exactly (the API server has no `until`, and `sinceTime` is cut to seconds).
import type { Readable } from "node:stream";
import type { Logger, LogsRequest, RpcError } from "@crowsnest/shared";
import { KubeApiError, type KubeClient } from "@crowsnest/shared/kubernetes";
import { LogChunkPacker } from "../logs/log-chunk-packer.ts";
import { type AssembledLine, createLogLineAssembler } from "../logs/log-line-assembler.ts";
import { type LogReplyConnection, LogReplySender } from "../rpc/log-reply-sender.ts";
import { createLogRequestHandler, type LogsResponder } from "../rpc/log-request-handling.ts";
import { errorReply } from "../rpc/rpc-replies.ts";
import type { KubernetesWatcher } from "./kubernetes-watcher.ts";

export interface KubeLogsResponderOptions {
  client: Pick<KubeClient, "stream">;
  findContainer: KubernetesWatcher["findContainer"];
  nc: LogReplyConnection;
  logger: Logger;
  /** Deadline of opening the log stream. */
  requestTimeoutMs: number;
  maxConcurrent: number;
  maxDurationMs: number;
  probeIntervalMs: number;
  probeTimeoutMs?: number;
  batchDelayMs?: number;
  maxPayloadBytes: () => number;
}

type EndReason =
  | "stream_ended"
  | "until_passed"
  | "time_limit"
  | "requester_gone"
  | "stopping"
  | "bus_unavailable";

const PAYLOAD_MARGIN_BYTES = 64;

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

export function createKubeLogsResponder(options: KubeLogsResponderOptions): LogsResponder {
  const { nc, logger } = options;
  const probeTimeoutMs = options.probeTimeoutMs ?? Math.min(1000, options.probeIntervalMs);
  const batchDelayMs = options.batchDelayMs ?? 50;
  const serve = async (inbox: string, request: LogsRequest, stopped: AbortSignal): Promise<void> => {
    const log = logger.child({ container: request.container, follow: request.follow });
    let ended: EndReason | undefined;
    let body: Readable | undefined;
    const end = (reason: EndReason): void => {
      ended ??= reason;
      body?.destroy();
    };
    const sender = new LogReplySender(nc, inbox, log, () => end("bus_unavailable"));
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
    const opened = body;
    const onStop = () => end("stopping");
    stopped.addEventListener("abort", onStop, { once: true });
    if (stopped.aborted) end("stopping");
    const timeLimit = setTimeout(() => end("time_limit"), options.maxDurationMs);
    const assembler = createLogLineAssembler({ tty: true, timestamps: true });
    const packer = new LogChunkPacker(options.maxPayloadBytes() - PAYLOAD_MARGIN_BYTES);
    const sinceMs = request.since === null ? undefined : Date.parse(request.since);
    const untilMs = request.until === null ? undefined : Date.parse(request.until);
    let batchTimer: NodeJS.Timeout | undefined;
    let probeTimer: NodeJS.Timeout | undefined;
    if (request.follow) {
      probeTimer = setInterval(() => {
        void sender.probe(probeTimeoutMs).then((answer) => {
          if (answer === "gone") end("requester_gone");
        });
      }, options.probeIntervalMs);
    }
    /** The line as sent, or undefined when it is outside since/until. */
    const shape = (line: AssembledLine): AssembledLine | undefined => {
      const ms = line.ts === null ? undefined : Date.parse(line.ts);
      if (ms !== undefined && sinceMs !== undefined && ms < sinceMs) return undefined;
      if (ms !== undefined && untilMs !== undefined && ms > untilMs) {
        end("until_passed");
        return undefined;
      }
      return { stream: "stdout", ts: request.timestamps ? line.ts : null, text: line.text };
    };
    const add = async (lines: readonly AssembledLine[]) => {
      for (const raw of lines) {
        const line = ended === "until_passed" ? undefined : shape(raw);
        if (line !== undefined) for (const full of packer.add(line)) await sender.send(full, false);
      }
    };

    let readError: unknown;
    try {
      for await (const chunk of opened as AsyncIterable<Buffer | string>) {
        await add(assembler.push(chunk));
        if (request.follow && packer.pendingLines > 0 && batchTimer === undefined) {
          batchTimer = setTimeout(() => {
            batchTimer = undefined;
            if (packer.pendingLines > 0 && ended === undefined) void sender.send(packer.take(), false);
          }, batchDelayMs);
        }
      }
    } catch (error) {
      readError = error;
    } finally {
      clearTimeout(timeLimit);
      clearTimeout(batchTimer);
      clearInterval(probeTimer);
      stopped.removeEventListener("abort", onStop);
      opened.destroy();
    }
    if (ended === undefined && readError !== undefined) {
      await add(assembler.end());
      if (packer.pendingLines > 0) void sender.send(packer.take(), false);
      await sender.fail(errorReply("runtime_unavailable", `the log stream broke: ${String(readError)}`));
      log.warn({ err: readError }, "log stream broke");
      return;
    }
    ended ??= "stream_ended";
    if (ended === "requester_gone" || ended === "bus_unavailable") {
      await sender.idle();
      return;
    }
    if (ended === "time_limit" && !request.follow) {
      await sender.fail(
        errorReply("runtime_unavailable", `the logs did not arrive within ${options.maxDurationMs} ms`),
      );
      return;
    }
    if (ended === "stream_ended") await add(assembler.end());
    await sender.send(packer.take(), true);
    log.debug({ reason: ended, chunks: sender.sentChunks }, "log request answered");
  };

  return createLogRequestHandler<undefined>({
    nc,
    logger,
    maxConcurrent: options.maxConcurrent,
    admit: (request) =>
      request.stream === "stderr"
        ? {
            refusal: errorReply(
              "bad_request",
              "Kubernetes does not keep stderr apart from stdout; ask for stream `both` or `stdout`",
            ),
          }
        : { target: undefined },
    serve: (inbox, request, _target, stopped) => serve(inbox, request, stopped),
  });
}
