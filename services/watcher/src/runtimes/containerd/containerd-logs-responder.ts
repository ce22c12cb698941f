// Answers `<prefix>.v1.rpc.<host>.logs` on a containerd host. containerd has no log API: a
// container's output goes wherever its creator pointed it. nerdctl writes it to a json-file log in
// the container's state directory (label `nerdctl/state-dir`, `<id>-json.log` in it), and that file
// is served, with tail, since/until, one stream or both, timestamps and follow (also across a
// rotation). For any other container, or when the file cannot be read here, the answer is
// `logs_unavailable` with the reason, never an empty success that would read as "the container
// printed nothing". An unknown container is `not_found`, as on every runtime.
import { access } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Logger, LogsRequest } from "@crowsnest/shared";
import { createJsonFileAssembler, offsetOfLastRecords, readFileChunks } from "../../logs/json-file-log.ts";
import { DEFAULT_MAX_LINE_BYTES } from "../../logs/log-line-assembler.ts";
import type { ContainerInspector } from "../../rpc/inspect-responder.ts";
import { type LogReplyConnection, startLogReply } from "../../rpc/log-reply-sender.ts";
import {
  createLogRequestHandler,
  type LogCapabilities,
  type LogsResponder,
} from "../../rpc/log-request-handling.ts";
import { type LogStreamOptions, logStreamTiming } from "../../rpc/log-stream-control.ts";
import { readLogStreamIntoReply } from "../../rpc/log-stream-reading.ts";
import { errorReply } from "../../rpc/rpc-replies.ts";

/** The label nerdctl keeps a container's state directory in (its log file is there). */
export const NERDCTL_STATE_DIR_LABEL = "nerdctl/state-dir";

export interface ContainerdLogsResponderOptions extends LogStreamOptions {
  inspect: ContainerInspector;
  nc: LogReplyConnection;
  logger: Logger;
  /** nerdctl's data root as the watcher sees it: only log files below it are read. */
  nerdctlDataRoot: string;
}

/** Lines carry their own time (the window is applied by it); stdout and stderr are kept apart. */
export const CONTAINERD_LOG_CAPABILITIES: LogCapabilities = {
  runtime: "containerd",
  separateStreams: true,
  exactWindow: false,
  previous: false,
};

export const NOT_FROM_NERDCTL =
  "containerd keeps no logs of its own: this container was not created by nerdctl (no nerdctl/state-dir label), so its output went where its creator sent it (a FIFO read by ctr, a file), which the watcher cannot read; see docs/containerd.md";

/** The container's nerdctl log file, if its state directory lies within the data root. */
export function nerdctlLogFile(
  labels: Readonly<Record<string, string>>,
  dataRoot: string,
): { path: string } | { refusal: string } {
  const stateDir = labels[NERDCTL_STATE_DIR_LABEL];
  if (stateDir === undefined || stateDir === "") return { refusal: NOT_FROM_NERDCTL };
  const resolved = resolve(stateDir);
  const inside = relative(resolve(dataRoot), resolved);
  if (inside === "" || inside.split(sep)[0] === ".." || isAbsolute(inside)) {
    return {
      refusal: `the container's nerdctl state directory ${stateDir} is outside CROWSNEST_NERDCTL_DATA_ROOT (${dataRoot}); its log file is not read`,
    };
  }
  return { path: join(resolved, `${basename(resolved)}-json.log`) };
}

export function createContainerdLogsResponder(options: ContainerdLogsResponderOptions): LogsResponder {
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
    const found = await options.inspect(request.container);
    if ("ok" in found) {
      await sender.fail(found);
      return;
    }
    const file = nerdctlLogFile(found.labels, options.nerdctlDataRoot);
    if ("refusal" in file) {
      await sender.fail(errorReply("logs_unavailable", file.refusal));
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
      await sender.fail(
        errorReply(
          "logs_unavailable",
          `nerdctl's log file ${file.path} cannot be read here (${(error as NodeJS.ErrnoException).code ?? String(error)}): mount nerdctl's data root into the watcher at CROWSNEST_NERDCTL_DATA_ROOT`,
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
      assembler: createJsonFileAssembler({ stream: request.stream, maxLineChars: DEFAULT_MAX_LINE_BYTES }),
      control,
      sender,
      request,
      options,
      log,
      slowRuntime: "reading the log file",
      capabilities: CONTAINERD_LOG_CAPABILITIES,
      shape: (line) => ({ stream: line.stream, ts: request.timestamps ? line.ts : null, text: line.text }),
      ...(request.follow ? {} : { keepLast: request.tail }),
      describeError: String,
    });
  };

  return createLogRequestHandler<undefined>({
    nc,
    logger,
    maxConcurrent: options.maxConcurrent,
    capabilities: CONTAINERD_LOG_CAPABILITIES,
    admit: () => ({ target: undefined }),
    serve: (inbox, request, _target, stopped) => serve(inbox, request, stopped),
  });
}
