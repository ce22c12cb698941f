// Answers `<prefix>.v1.rpc.<host>.logs` on a CRI node from the container's CRI log file (the
// `log_path` its status gives, under the pod's log directory): tail, since/until (by each entry's
// time), stdout or stderr alone, timestamps, follow (also across the kubelet's rotation: a new
// file under the same name is read from its start), and `previous`: the file of the run before
// the newest, while the runtime keeps that container (the kubelet keeps the last one). Files
// outside CROWSNEST_CRI_LOG_ROOT are never read, whatever the runtime says.
import { access } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import type { Logger, LogsRequest } from "@crowsnest/shared";
import { createCriLogAssembler } from "../../logs/cri-log-format.ts";
import { offsetOfLastRecords, readFileChunks } from "../../logs/json-file-log.ts";
import { DEFAULT_MAX_LINE_BYTES } from "../../logs/log-line-assembler.ts";
import { type LogReplyConnection, startLogReply } from "../../rpc/log-reply-sender.ts";
import {
  createLogRequestHandler,
  type LogCapabilities,
  type LogsResponder,
} from "../../rpc/log-request-handling.ts";
import { type LogStreamOptions, logStreamTiming } from "../../rpc/log-stream-control.ts";
import { readLogStreamIntoReply } from "../../rpc/log-stream-reading.ts";
import { errorReply } from "../../rpc/rpc-replies.ts";
import type { CriRunLookup } from "./cri-inspector.ts";

export interface CriLogsResponderOptions extends LogStreamOptions {
  runs: CriRunLookup;
  nc: LogReplyConnection;
  logger: Logger;
  /** Only log files below it are read. */
  logRoot: string;
}

/** Entries carry their own time (the window is applied by it); stdout and stderr are kept apart. */
export const CRI_LOG_CAPABILITIES: LogCapabilities = {
  runtime: "cri",
  separateStreams: true,
  exactWindow: false,
  previous: true,
};

/** The log file if it lies within the root, else why it is not read. */
export function criLogFile(logPath: string, logRoot: string): { path: string } | { refusal: string } {
  if (logPath === "") {
    return {
      refusal:
        "the CRI runtime names no log file for this container (it was created without a log directory)",
    };
  }
  const resolved = resolve(logPath);
  const inside = relative(resolve(logRoot), resolved);
  if (inside === "" || inside.split(sep)[0] === ".." || isAbsolute(inside)) {
    return {
      refusal: `the container's log file ${logPath} is outside CROWSNEST_CRI_LOG_ROOT (${logRoot}); it is not read`,
    };
  }
  return { path: resolved };
}

export function createCriLogsResponder(options: CriLogsResponderOptions): LogsResponder {
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
    const found = await options.runs(request.container);
    if ("ok" in found) {
      await sender.fail(found);
      return;
    }
    const run = request.previous ? found.previous : found.newest;
    if (run === undefined) {
      await sender.fail(
        errorReply("not_found", `${request.container} has no previous run that the runtime still keeps`),
      );
      return;
    }
    const file = criLogFile(run.logPath, options.logRoot);
    if ("refusal" in file) {
      await sender.fail(errorReply("logs_unavailable", file.refusal));
      return;
    }
    let start: number;
    try {
      await access(file.path);
      // One entry per line, but for lines the runtime split: as for the json-file logs.
      if (request.follow) start = await offsetOfLastRecords(file.path, request.tail);
      else if (request.stream === "both") start = await offsetOfLastRecords(file.path, request.tail * 2);
      else start = 0;
    } catch (error) {
      await sender.fail(
        errorReply(
          "logs_unavailable",
          `the log file ${file.path} cannot be read here (${(error as NodeJS.ErrnoException).code ?? String(error)}): mount the host's pod log directory into the watcher at CROWSNEST_CRI_LOG_ROOT`,
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
      assembler: createCriLogAssembler({ stream: request.stream, maxLineChars: DEFAULT_MAX_LINE_BYTES }),
      control,
      sender,
      request,
      options,
      log,
      slowRuntime: "reading the log file",
      capabilities: CRI_LOG_CAPABILITIES,
      shape: (line) => ({ stream: line.stream, ts: request.timestamps ? line.ts : null, text: line.text }),
      ...(request.follow ? {} : { keepLast: request.tail }),
      describeError: String,
    });
  };

  return createLogRequestHandler<undefined>({
    nc,
    logger,
    maxConcurrent: options.maxConcurrent,
    capabilities: CRI_LOG_CAPABILITIES,
    admit: () => ({ target: undefined }),
    serve: (inbox, request, _target, stopped) => serve(inbox, request, stopped),
  });
}
