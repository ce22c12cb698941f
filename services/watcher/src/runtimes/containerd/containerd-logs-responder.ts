// Answers `<prefix>.v1.rpc.<host>.logs` on a containerd host. containerd has no log API: a
// container's output goes wherever its creator pointed it. nerdctl writes it to a json-file log in
// the container's state directory (label `nerdctl/state-dir`, `<id>-json.log` in it), and that file
// is served, with tail, since/until, one stream or both, timestamps and follow (also across a
// rotation). For any other container, or when the file cannot be read here, the answer is
// `logs_unavailable` with the reason, never an empty success that would read as "the container
// printed nothing". An unknown container is `not_found`, as on every runtime.
import { basename, join } from "node:path";
import type { Logger } from "@crowsnest/shared/agent";
import { createJsonFileAssembler } from "../../logs/json-file-log.ts";
import { createLogFileResponder, fileWithinRoot } from "../../logs/log-file-responder.ts";
import type { ContainerInspector } from "../../rpc/inspect-responder.ts";
import type { LogReplyConnection } from "../../rpc/log-reply-sender.ts";
import type { LogCapabilities, LogsResponder } from "../../rpc/log-request-handling.ts";
import type { LogStreamOptions } from "../../rpc/log-stream-control.ts";
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
  const resolved = fileWithinRoot(stateDir, dataRoot);
  if (resolved === undefined) {
    return {
      refusal: `the container's nerdctl state directory ${stateDir} is outside CROWSNEST_NERDCTL_DATA_ROOT (${dataRoot}); its log file is not read`,
    };
  }
  return { path: join(resolved, `${basename(resolved)}-json.log`) };
}

export function createContainerdLogsResponder(options: ContainerdLogsResponderOptions): LogsResponder {
  return createLogFileResponder({
    ...options,
    capabilities: CONTAINERD_LOG_CAPABILITIES,
    async locate(request) {
      const found = await options.inspect(request.container);
      if ("ok" in found) return found;
      const file = nerdctlLogFile(found.labels, options.nerdctlDataRoot);
      return "refusal" in file ? errorReply("logs_unavailable", file.refusal) : file;
    },
    assembler: createJsonFileAssembler,
    unreadableHint: "mount nerdctl's data root into the watcher at CROWSNEST_NERDCTL_DATA_ROOT",
  });
}
