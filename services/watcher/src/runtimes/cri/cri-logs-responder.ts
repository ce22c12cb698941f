// Answers `<prefix>.v1.rpc.<host>.logs` on a CRI node from the container's CRI log file (the
// `log_path` its status gives, under the pod's log directory): tail, since/until (by each entry's
// time), stdout or stderr alone, timestamps, follow (also across the kubelet's rotation: a new
// file under the same name is read from its start), and `previous`: the file of the run before
// the newest, while the runtime keeps that container (the kubelet keeps the last one). Files
// outside CROWSNEST_CRI_LOG_ROOT are never read, whatever the runtime says.
import type { Logger } from "@crowsnest/shared/agent";
import { createCriLogAssembler } from "../../logs/cri-log-format.ts";
import { createLogFileResponder, fileWithinRoot } from "../../logs/log-file-responder.ts";
import type { LogReplyConnection } from "../../rpc/log-reply-sender.ts";
import type { LogCapabilities, LogsResponder } from "../../rpc/log-request-handling.ts";
import type { LogStreamOptions } from "../../rpc/log-stream-control.ts";
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
  const resolved = fileWithinRoot(logPath, logRoot);
  if (resolved === undefined) {
    return {
      refusal: `the container's log file ${logPath} is outside CROWSNEST_CRI_LOG_ROOT (${logRoot}); it is not read`,
    };
  }
  return { path: resolved };
}

export function createCriLogsResponder(options: CriLogsResponderOptions): LogsResponder {
  return createLogFileResponder({
    ...options,
    capabilities: CRI_LOG_CAPABILITIES,
    async locate(request) {
      const found = await options.runs(request.container);
      if ("ok" in found) return found;
      const run = request.previous ? found.previous : found.newest;
      if (run === undefined) {
        return errorReply(
          "not_found",
          `${request.container} has no previous run that the runtime still keeps`,
        );
      }
      const file = criLogFile(run.logPath, options.logRoot);
      return "refusal" in file ? errorReply("logs_unavailable", file.refusal) : file;
    },
    assembler: createCriLogAssembler,
    unreadableHint: "mount the host's pod log directory into the watcher at CROWSNEST_CRI_LOG_ROOT",
  });
}
