// What answering `<prefix>.v1.rpc.<host>.logs` requires of every runtime alike: a reply subject,
// a valid request, `since` not after `until`, a bound on requests served at once, and a stop that
// ends every stream in progress and waits for it. Each runtime declares what its logs can do
// (capabilities: the core refuses or adapts a request accordingly), says which other requests it
// refuses (admit) and how it streams the lines (serve).
import type { Logger, LogsRequest, RpcError } from "@crowsnest/shared/agent";
import type { RpcConnection, RpcMessage } from "./rpc-connection.ts";
import { encodeLogsReply, errorReply } from "./rpc-replies.ts";
import { requestCodecs } from "./rpc-request-codecs.ts";

export interface LogsResponder {
  handle(message: RpcMessage): Promise<void>;
  /** Ends every stream in progress (follow ones with `done: true`) and waits for them. */
  stop(): Promise<void>;
  readonly active: number;
}

export type Admission<Target> = { refusal: RpcError } | { target: Target };

/** What a runtime's log reading can do. */
export interface LogCapabilities {
  /** The runtime's name in refusals. */
  readonly runtime: string;
  /** stdout and stderr are kept apart: a request for one of them alone can be served. */
  readonly separateStreams: boolean;
  /**
   * The runtime ends a read at `until` and starts it at `since` exactly; without, every line is
   * read with its time and the read loop applies both (rpc/log-stream-reading.ts).
   */
  readonly exactWindow: boolean;
  /** A container's previous (last terminated) instance can be read; without, `previous` is ignored, as the contract says. */
  readonly previous: boolean;
}

export interface LogRequestHandling<Target> {
  nc: Pick<RpcConnection, "publish">;
  logger: Logger;
  capabilities: LogCapabilities;
  /** Log requests served at once; one more is answered `runtime_unavailable`. */
  maxConcurrent: number;
  /** A refusal for a request this runtime cannot serve, or what serving it needs. */
  admit(request: LogsRequest): Admission<Target>;
  /** Streams the reply to `inbox` until it is complete or `stopped` aborts. */
  serve(inbox: string, request: LogsRequest, target: Target, stopped: AbortSignal): Promise<void>;
}

export function createLogRequestHandler<Target>(handling: LogRequestHandling<Target>): LogsResponder {
  const { nc, logger, maxConcurrent } = handling;
  const running = new Set<AbortController>();
  const handlers = new Set<Promise<void>>();
  let active = 0;

  /** For answers outside a reply stream: a bus that is closing must not turn into an unhandled error. */
  const publishQuietly = (inbox: string, reply: RpcError): void => {
    try {
      nc.publish(inbox, encodeLogsReply(reply).data);
    } catch (error) {
      logger.warn({ err: error }, "cannot answer a log request");
    }
  };

  const refusalOf = (request: LogsRequest): Admission<Target> => {
    const { capabilities } = handling;
    if (request.stream === "stderr" && !capabilities.separateStreams) {
      return {
        refusal: errorReply(
          "bad_request",
          `${capabilities.runtime} does not keep stderr apart from stdout; ask for stream \`both\` or \`stdout\``,
        ),
      };
    }
    const admission = handling.admit(request);
    if ("refusal" in admission) return admission;
    if (request.since !== null && request.until !== null && request.since > request.until)
      return { refusal: errorReply("bad_request", "since is after until") };
    if (active >= maxConcurrent) {
      return {
        refusal: errorReply(
          "runtime_unavailable",
          `${maxConcurrent} log requests are in progress, the most this watcher serves; try again later`,
        ),
      };
    }
    return admission;
  };

  const handle = async (message: RpcMessage): Promise<void> => {
    const inbox = message.reply;
    if (inbox === undefined || inbox === "") {
      logger.warn({ subject: message.subject }, "log request without a reply subject dropped");
      return;
    }
    const decoded = (await requestCodecs()).logsRequest.decode(message.data);
    const admission: Admission<Target> = decoded.ok
      ? refusalOf(decoded.value)
      : { refusal: errorReply("bad_request", `not a logs request: ${decoded.detail}`) };
    if ("refusal" in admission || !decoded.ok) {
      if ("refusal" in admission) {
        logger.debug(
          { code: admission.refusal.error.code, message: admission.refusal.error.message },
          "log request refused",
        );
        publishQuietly(inbox, admission.refusal);
      }
      return;
    }
    active += 1;
    const controller = new AbortController();
    running.add(controller);
    const request =
      decoded.value.previous === true && !handling.capabilities.previous
        ? { ...decoded.value, previous: false }
        : decoded.value;
    try {
      await handling.serve(inbox, request, admission.target, controller.signal);
    } finally {
      running.delete(controller);
      active -= 1;
    }
  };

  return {
    handle(message) {
      const outcome = handle(message).catch((error: unknown) => {
        logger.error({ err: error }, "log request failed");
        if (message.reply) publishQuietly(message.reply, errorReply("internal", "log request failed"));
      });
      const tracked = outcome.finally(() => handlers.delete(tracked));
      handlers.add(tracked);
      return tracked;
    },
    async stop() {
      for (const controller of running) controller.abort();
      await Promise.allSettled([...handlers]);
    },
    get active() {
      return active;
    },
  };
}
