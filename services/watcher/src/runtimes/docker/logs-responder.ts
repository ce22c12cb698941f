// Answers `<prefix>.v1.rpc.<host>.logs`: a container's log lines, demultiplexed and tagged
// with their stream in the order they were written, sent to the request's reply subject as
// chunks that each fit the server's max payload, `seq` counting from 0, the last with
// `done: true` (or, when something broke midway, an error message ends the reply).
//
// Follow mode streams chunks as lines arrive, batched for a moment, until the container's
// output ends, the time limit passes, the watcher stops (each a last chunk with `done: true`),
// or the requester is gone. Gone is detected without asking anything of the requester: every
// probe interval an empty chunk goes out as a NATS request, and the server answers "no
// responders" as soon as nobody is subscribed to the reply inbox any more; a requester that is
// still there simply receives an empty chunk (which also tells it the stream is alive).
import type { Logger, LogsRequest } from "@crowsnest/shared/agent";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { createLogLineAssembler } from "../../logs/log-line-assembler.ts";
import { containerReference } from "../../rpc/container-reference.ts";
import { startLogReply } from "../../rpc/log-reply-sender.ts";
import {
  createLogRequestHandler,
  type LogCapabilities,
  type LogsResponder,
} from "../../rpc/log-request-handling.ts";
import { type LogStreamOptions, logStreamTiming } from "../../rpc/log-stream-control.ts";
import { readLogStreamIntoReply } from "../../rpc/log-stream-reading.ts";
import type { RpcConnection } from "../../rpc/rpc-connection.ts";
import { errorReply } from "../../rpc/rpc-replies.ts";
import { msToNanos, nanosToDockerTime } from "../../time/nano-time.ts";
import { parseContainerInspect } from "./container-inspect-parser.ts";
import type { DockerApi, DockerLogStream } from "./docker-api.ts";
import { dockerErrorMessage } from "./docker-errors.ts";
import { dockerFailureReply } from "./docker-failure-reply.ts";

export type { LogsResponder } from "../../rpc/log-request-handling.ts";

export interface LogsResponderOptions extends LogStreamOptions {
  docker: Pick<DockerApi, "inspectContainer" | "containerLogs">;
  nc: Pick<RpcConnection, "publish" | "request" | "flush">;
  logger: Logger;
  /** Deadline of the inspect and of opening the log stream. */
  dockerTimeoutMs: number;
}

function dockerTime(timestamp: string | null): string | undefined {
  return timestamp === null ? undefined : nanosToDockerTime(msToNanos(Date.parse(timestamp)));
}

/** dockerd filters by stream, `since` and `until` itself; a container keeps one log across restarts. */
export const DOCKER_LOG_CAPABILITIES: LogCapabilities = {
  runtime: "Docker",
  separateStreams: true,
  exactWindow: true,
  previous: false,
};

export function createLogsResponder(options: LogsResponderOptions): LogsResponder {
  const { docker, nc, logger, dockerTimeoutMs } = options;
  const timing = logStreamTiming(options);
  const serve = async (inbox: string, request: LogsRequest, ref: string, stopped: AbortSignal) => {
    const { log, control, sender } = startLogReply({
      nc,
      logger,
      timing,
      inbox,
      container: ref,
      follow: request.follow,
      stopped,
    });

    let inspected: ReturnType<typeof parseContainerInspect>;
    try {
      const json = await withDeadline(`inspecting container ${ref}`, dockerTimeoutMs, (signal) =>
        docker.inspectContainer(ref, { signal: AbortSignal.any([signal, stopped]) }),
      );
      inspected = parseContainerInspect(json);
    } catch (error) {
      await sender.fail(dockerFailureReply(error, ref));
      return;
    }
    if (inspected === undefined) {
      await sender.fail(errorReply("internal", "dockerd answered the inspect without a container"));
      return;
    }
    const since = dockerTime(request.since);
    const until = dockerTime(request.until);
    const window = {
      ...(since === undefined ? {} : { since }),
      ...(until === undefined ? {} : { until }),
    };
    // dockerd 20.10 (json-file) counts `tail` over both streams before it filters by stream, so
    // "the last N stderr lines" can come back short, or empty when stdout wrote last. For one
    // stream with a tail, find a tail that covers N lines of it, read that, keep the last N.
    let dockerTail: number | undefined = request.tail;
    const keepLast =
      request.stream !== "both" && request.tail > 0 && !inspected.tty && !request.follow
        ? request.tail
        : undefined;
    if (keepLast !== undefined) {
      try {
        dockerTail = await withDeadline(`reading the logs of ${ref}`, dockerTimeoutMs, (signal) =>
          tailCoveringStream(docker, inspected.id, request, window, AbortSignal.any([signal, stopped])),
        );
      } catch (error) {
        await sender.fail(dockerFailureReply(error, ref));
        return;
      }
    }
    let stream: DockerLogStream;
    try {
      stream = await withDeadline(`opening the logs of ${ref}`, dockerTimeoutMs, (signal) =>
        docker.containerLogs(
          inspected.id,
          {
            stdout: request.stream !== "stderr",
            stderr: request.stream !== "stdout",
            timestamps: request.timestamps,
            follow: request.follow,
            ...(dockerTail === undefined ? {} : { tail: dockerTail }),
            ...window,
          },
          AbortSignal.any([signal, stopped]),
        ),
      );
    } catch (error) {
      await sender.fail(dockerFailureReply(error, ref));
      return;
    }
    await readLogStreamIntoReply({
      source: stream,
      assembler: createLogLineAssembler({ tty: inspected.tty, timestamps: request.timestamps }),
      control,
      sender,
      request,
      options,
      log,
      slowRuntime: "dockerd",
      capabilities: DOCKER_LOG_CAPABILITIES,
      ...(keepLast === undefined ? {} : { keepLast }),
      describeError: dockerErrorMessage,
    });
  };

  return createLogRequestHandler<string>({
    nc,
    logger,
    capabilities: DOCKER_LOG_CAPABILITIES,
    maxConcurrent: options.maxConcurrent,
    admit(request) {
      const ref = containerReference(request.container);
      return ref === undefined
        ? {
            refusal: errorReply(
              "bad_request",
              `"${request.container}" is not a container name, id or id prefix`,
            ),
          }
        : { target: ref };
    },
    serve,
  });
}

/** Upper bound of the tail probed for one stream's lines; past it the whole log is read. */
const MAX_PROBED_TAIL = 1 << 20;

/**
 * The smallest tail (growing fourfold from the one asked for) whose entries hold at least
 * `request.tail` lines of the requested stream, or that already reaches the start of the log;
 * undefined (the whole log) past MAX_PROBED_TAIL.
 */
async function tailCoveringStream(
  docker: Pick<DockerApi, "containerLogs">,
  id: string,
  request: LogsRequest,
  window: { since?: string; until?: string },
  signal: AbortSignal,
): Promise<number | undefined> {
  for (let tail = request.tail; ; tail *= 4) {
    if (tail >= MAX_PROBED_TAIL) return undefined; // the whole log
    const logs = await docker.containerLogs(
      id,
      { stdout: true, stderr: true, timestamps: false, follow: false, tail, ...window },
      signal,
    );
    const assembler = createLogLineAssembler({ tty: false, timestamps: false });
    let total = 0;
    let wanted = 0;
    try {
      for await (const chunk of logs) {
        for (const line of assembler.push(chunk)) {
          total += 1;
          if (line.stream === request.stream) wanted += 1;
        }
      }
    } finally {
      logs.destroy();
    }
    for (const line of assembler.end()) {
      total += 1;
      if (line.stream === request.stream) wanted += 1;
    }
    if (wanted >= request.tail || total < tail) return tail;
  }
}
