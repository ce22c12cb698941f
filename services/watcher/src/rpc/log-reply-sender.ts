// Sends the chunks of one log reply in order, numbering them (`seq` from 0), with the
// backpressure, error ending and requester probe every log responder (Docker, Kubernetes)
// shares. See logs-responder.ts for the protocol.
import type { Logger, RpcError } from "@crowsnest/shared/agent";
import type { AssembledLine } from "../logs/log-line-assembler.ts";
import { LogStreamControl, type LogStreamTiming } from "./log-stream-control.ts";
import { isNoRespondersError, type RpcConnection } from "./rpc-connection.ts";
import { encodeLogsReply, logsChunk } from "./rpc-replies.ts";

export type LogReplyConnection = Pick<RpcConnection, "publish" | "request" | "flush">;

/** Sends one reply's messages in order, numbering chunks. */
export class LogReplySender {
  readonly #nc: LogReplyConnection;
  readonly #inbox: string;
  readonly #logger: Logger;
  readonly #onFailure: () => void;
  #seq = 0;
  #chain: Promise<void> = Promise.resolve();
  #failed = false;

  constructor(nc: LogReplyConnection, inbox: string, logger: Logger, onFailure: () => void) {
    this.#nc = nc;
    this.#inbox = inbox;
    this.#logger = logger;
    this.#onFailure = onFailure;
  }

  get sentChunks(): number {
    return this.#seq;
  }

  #encode(lines: readonly AssembledLine[], done: boolean): Uint8Array {
    const { data, failure } = encodeLogsReply(logsChunk(this.#seq, lines, done));
    this.#seq += 1;
    if (failure !== undefined) this.#logger.error({ detail: failure }, "log chunk failed validation");
    return data;
  }

  #enqueue(work: () => Promise<void> | void): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      if (this.#failed) return;
      try {
        await work();
      } catch (error) {
        this.#failed = true;
        this.#logger.warn({ err: error }, "cannot send log chunks; request abandoned");
        this.#onFailure();
      }
    });
    return this.#chain;
  }

  /** Queues a chunk; resolves once the server has it (backpressure for a fast container). */
  send(lines: readonly AssembledLine[], done: boolean): Promise<void> {
    return this.#enqueue(async () => {
      this.#nc.publish(this.#inbox, this.#encode(lines, done));
      await this.#nc.flush();
    });
  }

  /** Queues an error message, which ends the reply. */
  fail(reply: RpcError): Promise<void> {
    return this.#enqueue(() => {
      const { data } = encodeLogsReply(reply);
      this.#nc.publish(this.#inbox, data);
    });
  }

  /** Sends an empty chunk as a request: "gone" when the server says nobody listens to the inbox. */
  probe(timeoutMs: number): Promise<"gone" | "there" | "unknown"> {
    let pending: Promise<unknown> | undefined;
    const queued = this.#enqueue(() => {
      // request() publishes before it returns, so the chunk stays in order; its answer is not awaited here.
      pending = this.#nc.request(this.#inbox, this.#encode([], false), { timeout: timeoutMs });
      pending.catch(() => undefined);
    });
    return queued.then(async () => {
      if (pending === undefined) return "unknown";
      try {
        await pending;
        return "there";
      } catch (error) {
        if (isNoRespondersError(error)) return "gone";
        return error instanceof Error && error.name === "TimeoutError" ? "there" : "unknown";
      }
    });
  }

  idle(): Promise<void> {
    return this.#chain;
  }
}

/** What serving one log request starts with: its logger, its stream's control, its reply's sender. */
export interface LogReplyStart {
  readonly log: Logger;
  readonly control: LogStreamControl;
  readonly sender: LogReplySender;
}

/** Sets up the reply to one log request; a bus that fails mid-reply ends the stream. */
export function startLogReply(options: {
  nc: LogReplyConnection;
  logger: Logger;
  timing: LogStreamTiming;
  inbox: string;
  container: string;
  follow: boolean;
  stopped: AbortSignal;
}): LogReplyStart {
  const log = options.logger.child({ container: options.container, follow: options.follow });
  const control = new LogStreamControl(options.timing, options.stopped);
  const sender = new LogReplySender(options.nc, options.inbox, log, () => control.end("bus_unavailable"));
  return { log, control, sender };
}
