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
import type { Logger, LogsRequest } from "@crowsnest/shared";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { type AssembledLine, createLogLineAssembler } from "../../logs/log-line-assembler.ts";
import { containerReference } from "../../rpc/container-reference.ts";
import { LogReplySender } from "../../rpc/log-reply-sender.ts";
import { createLogRequestHandler, type LogsResponder } from "../../rpc/log-request-handling.ts";
import {
  LogStreamControl,
  type LogStreamOptions,
  logStreamTiming,
  replyChunkPacker,
} from "../../rpc/log-stream-control.ts";
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

export function createLogsResponder(options: LogsResponderOptions): LogsResponder {
  const { docker, nc, logger, dockerTimeoutMs } = options;
  const timing = logStreamTiming(options);
  const serve = async (inbox: string, request: LogsRequest, ref: string, stopped: AbortSignal) => {
    const log = logger.child({ container: ref, follow: request.follow });
    const control = new LogStreamControl(timing, stopped);
    const sender = new LogReplySender(nc, inbox, log, () => control.end("bus_unavailable"));

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
      request.stream !== "both" && request.tail > 0 && !inspected.tty ? request.tail : undefined;
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
    control.begin(stream, sender, request.follow);
    const assembler = createLogLineAssembler({ tty: inspected.tty, timestamps: request.timestamps });
    const packer = replyChunkPacker(options);

    let readError: unknown;
    let lines = 0;
    /** With keepLast and no follow: the newest lines read so far, sent when the read ends. */
    const lastLines: AssembledLine[] = [];
    try {
      for await (const chunk of stream) {
        for (const line of assembler.push(chunk)) {
          lines += 1;
          if (keepLast !== undefined && !request.follow) {
            lastLines.push(line);
            if (lastLines.length > keepLast) lastLines.shift();
            continue;
          }
          for (const full of packer.add(line)) await sender.send(full, false);
        }
        if (request.follow) control.flushSoon(packer, sender);
      }
    } catch (error) {
      // Destroying the stream to end it makes the read fail; that is not an error.
      readError = error;
    } finally {
      control.finishReading();
    }
    for (const line of lastLines) for (const full of packer.add(line)) await sender.send(full, false);
    if (assembler.corrupted) log.warn("log stream was not multiplexed as expected; passed on as stdout");
    if (control.ended === undefined && readError !== undefined) {
      // dockerd went away midway: what was read is sent, then an error ends the reply.
      for (const line of assembler.end()) for (const full of packer.add(line)) void sender.send(full, false);
      if (packer.pendingLines > 0) void sender.send(packer.take(), false);
      await sender.fail(
        errorReply("runtime_unavailable", `the log stream broke: ${dockerErrorMessage(readError)}`),
      );
      log.warn({ err: readError, lines }, "log stream broke");
      return;
    }
    await control.closeReply({
      sender,
      packer,
      request,
      log,
      slowRuntime: "dockerd",
      *remaining() {
        for (const line of assembler.end()) {
          lines += 1;
          yield line;
        }
      },
      detail: () => ({ lines }),
    });
  };

  return createLogRequestHandler<string>({
    nc,
    logger,
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
