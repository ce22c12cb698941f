// Answers `<prefix>.v1.rpc.<host>.logs` from a container's log file on the watcher's file system:
// nerdctl's json-file logs on a containerd host, the CRI's log files on a CRI node. The runtime
// says which file and in which format; reading it is the same for every file: tail, since/until
// (by each line's own time), stdout or stderr alone, timestamps, follow (also across a rotation:
// a new file under the same name is read from its start). Only files below the root the operator
// mounted are read, whatever the runtime says (`fileWithinRoot`).
import { access } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import type { Logger, LogsRequest, RpcError } from "@crowsnest/shared/agent";
import { type LogReplyConnection, startLogReply } from "../rpc/log-reply-sender.ts";
import {
  createLogRequestHandler,
  type LogCapabilities,
  type LogsResponder,
} from "../rpc/log-request-handling.ts";
import { type LogStreamOptions, logStreamTiming } from "../rpc/log-stream-control.ts";
import { readLogStreamIntoReply } from "../rpc/log-stream-reading.ts";
import { errorReply } from "../rpc/rpc-replies.ts";
import { offsetOfLastRecords, readFileChunks } from "./json-file-log.ts";
import { DEFAULT_MAX_LINE_BYTES, type LogLineAssembler } from "./log-line-assembler.ts";

export interface LogFileResponderOptions extends LogStreamOptions {
  nc: LogReplyConnection;
  logger: Logger;
  capabilities: LogCapabilities;
  /** The requested container's log file, or the error to answer with. */
  locate(request: LogsRequest): Promise<{ path: string } | RpcError>;
  /** A reader of the file's format that keeps the lines of `stream`. */
  assembler(options: { stream: LogsRequest["stream"]; maxLineChars: number }): LogLineAssembler;
  /** What the operator does when the file cannot be read here (which directory to mount). */
  unreadableHint: string;
}

/** The path if it lies below the root, else undefined: files elsewhere are never read. */
export function fileWithinRoot(path: string, root: string): string | undefined {
  const resolved = resolve(path);
  const inside = relative(resolve(root), resolved);
  if (inside === "" || inside.split(sep)[0] === ".." || isAbsolute(inside)) return undefined;
  return resolved;
}

export function createLogFileResponder(options: LogFileResponderOptions): LogsResponder {
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
    const file = await options.locate(request);
    if ("ok" in file) {
      await sender.fail(file);
      return;
    }
    let start: number;
    try {
      await access(file.path);
      // One line is one record, but for lines the writer split. Following, the newest `tail`
      // records are sent and then what comes. Otherwise twice as many are read (for one stream
      // alone, every record) and the newest `tail` lines of them kept.
      if (request.follow) start = await offsetOfLastRecords(file.path, request.tail);
      else if (request.stream === "both") start = await offsetOfLastRecords(file.path, request.tail * 2);
      else start = 0;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      await sender.fail(
        errorReply(
          "logs_unavailable",
          `the log file ${file.path} cannot be read here (${code}): ${options.unreadableHint}`,
        ),
      );
      return;
    }
    if (request.tail === 0 && !request.follow) {
      await sender.send([], true);
      return;
    }
    await readLogStreamIntoReply({
      source: readFileChunks(file.path, { start, follow: request.follow }),
      assembler: options.assembler({ stream: request.stream, maxLineChars: DEFAULT_MAX_LINE_BYTES }),
      control,
      sender,
      request,
      options,
      log,
      slowRuntime: "reading the log file",
      capabilities: options.capabilities,
      shape: (line) => ({ stream: line.stream, ts: request.timestamps ? line.ts : null, text: line.text }),
      ...(request.follow ? {} : { keepLast: request.tail }),
      describeError: String,
    });
  };

  return createLogRequestHandler<undefined>({
    nc,
    logger,
    maxConcurrent: options.maxConcurrent,
    capabilities: options.capabilities,
    admit: () => ({ target: undefined }),
    serve: (inbox, request, _target, stopped) => serve(inbox, request, stopped),
  });
}
