// The lifecycle every log reply shares, whatever the runtime reads the lines from: the stream
// ends once, for the first reason that comes (its source ran dry, `until` passed, the time
// limit, the requester left, the watcher stops, the bus is gone); follow mode probes the
// requester and sends what it gathered after a short delay; and the reply is closed in the one
// way that reason calls for.
import type { Logger, LogsRequest } from "@crowsnest/shared/agent";
import { LogChunkPacker } from "../logs/log-chunk-packer.ts";
import type { AssembledLine } from "../logs/log-line-assembler.ts";
import type { LogReplySender } from "./log-reply-sender.ts";
import { errorReply } from "./rpc-replies.ts";

export type LogStreamEnd =
  | "stream_ended"
  | "until_passed"
  | "time_limit"
  | "requester_gone"
  | "stopping"
  | "bus_unavailable";

export interface LogStreamTiming {
  /** Longest a request streams (follow mode ends with `done: true` then). */
  maxDurationMs: number;
  /** How often a follow stream sends its empty probe chunk. */
  probeIntervalMs: number;
  /** How long a probe waits for "no responders". */
  probeTimeoutMs: number;
  /** How long follow mode gathers lines before it sends a chunk that is not full. */
  batchDelayMs: number;
}

export class LogStreamControl {
  readonly #timing: LogStreamTiming;
  readonly #stopped: AbortSignal;
  readonly #onStop = () => this.end("stopping");
  #ended: LogStreamEnd | undefined;
  #source: { destroy(): void } | undefined;
  #timeLimit: NodeJS.Timeout | undefined;
  #probeTimer: NodeJS.Timeout | undefined;
  #batchTimer: NodeJS.Timeout | undefined;

  constructor(timing: LogStreamTiming, stopped: AbortSignal) {
    this.#timing = timing;
    this.#stopped = stopped;
  }

  get ended(): LogStreamEnd | undefined {
    return this.#ended;
  }

  /** Ends the stream for `reason`, unless it has ended already; reading stops at once. */
  end(reason: LogStreamEnd): void {
    this.#ended ??= reason;
    this.#source?.destroy();
  }

  /** The source is open: the time limit, the watcher's stop and (follow mode) the probes apply. */
  begin(source: { destroy(): void }, sender: LogReplySender, follow: boolean): void {
    this.#source = source;
    this.#stopped.addEventListener("abort", this.#onStop, { once: true });
    if (this.#stopped.aborted) this.end("stopping");
    this.#timeLimit = setTimeout(() => this.end("time_limit"), this.#timing.maxDurationMs);
    if (follow) {
      this.#probeTimer = setInterval(() => {
        void sender.probe(this.#timing.probeTimeoutMs).then((answer) => {
          if (answer === "gone") this.end("requester_gone");
        });
      }, this.#timing.probeIntervalMs);
    }
  }

  /** Follow mode: what the packer holds goes out after the batch delay unless a chunk fills first. */
  flushSoon(packer: LogChunkPacker, sender: LogReplySender): void {
    if (packer.pendingLines === 0 || this.#batchTimer !== undefined) return;
    this.#batchTimer = setTimeout(() => {
      this.#batchTimer = undefined;
      if (packer.pendingLines > 0 && this.#ended === undefined) void sender.send(packer.take(), false);
    }, this.#timing.batchDelayMs);
  }

  /** Reading is over: clears every timer and listener and closes the source. */
  finishReading(): void {
    clearTimeout(this.#timeLimit);
    clearTimeout(this.#batchTimer);
    clearInterval(this.#probeTimer);
    this.#stopped.removeEventListener("abort", this.#onStop);
    this.#source?.destroy();
  }

  /**
   * Closes the reply as the way the stream ended calls for: nothing more to a requester that left
   * or a bus that is gone; an error when a plain read ran out of time (`slowRuntime` says who was
   * slow); otherwise `remaining` lines and the last chunk with `done: true`.
   */
  async closeReply(options: {
    sender: LogReplySender;
    packer: LogChunkPacker;
    request: LogsRequest;
    log: Logger;
    slowRuntime: string;
    /** The lines still held back (an assembler's last partial line), sent before `done`. */
    remaining: () => Iterable<AssembledLine>;
    /** Extra fields for the closing debug line. */
    detail?: () => Record<string, unknown>;
  }): Promise<void> {
    const { sender, packer, request, log } = options;
    this.#ended ??= "stream_ended";
    const reason = this.#ended;
    if (reason === "requester_gone" || reason === "bus_unavailable") {
      log.debug({ reason, chunks: sender.sentChunks, ...options.detail?.() }, "log stream ended");
      await sender.idle();
      return;
    }
    if (reason === "time_limit" && !request.follow) {
      await sender.fail(
        errorReply(
          "runtime_unavailable",
          `${options.slowRuntime} did not send the logs within ${this.#timing.maxDurationMs} ms`,
        ),
      );
      return;
    }
    for (const line of options.remaining())
      for (const full of packer.add(line)) void sender.send(full, false);
    await sender.send(packer.take(), true);
    log.debug({ reason, chunks: sender.sentChunks, ...options.detail?.() }, "log request answered");
  }
}

/** What every log responder is configured with, whatever its runtime. */
export interface LogStreamOptions {
  /** Log requests served at once; one more is answered `runtime_unavailable`. */
  maxConcurrent: number;
  /** Longest a request streams (follow mode ends with `done: true` then). */
  maxDurationMs: number;
  /** How often a follow stream sends its empty probe chunk. */
  probeIntervalMs: number;
  /** How long a probe waits for "no responders" (a requester that is there never answers). */
  probeTimeoutMs?: number;
  /** How long follow mode gathers lines before it sends a chunk that is not full. */
  batchDelayMs?: number;
  /** The server's max payload, read for every request. */
  maxPayloadBytes: () => number;
}

/** The timing of a responder's options, with the defaults both runtimes use. */
export function logStreamTiming(options: LogStreamOptions): LogStreamTiming {
  return {
    maxDurationMs: options.maxDurationMs,
    probeIntervalMs: options.probeIntervalMs,
    probeTimeoutMs: options.probeTimeoutMs ?? Math.min(1000, options.probeIntervalMs),
    batchDelayMs: options.batchDelayMs ?? 50,
  };
}

// Core NATS messages have no headers here, so a chunk may take the whole max payload but
// for this margin, kept in case a server counts a little more than the payload.
const PAYLOAD_MARGIN_BYTES = 64;

/** A packer for one reply, its chunks sized to the server's max payload now. */
export function replyChunkPacker(options: LogStreamOptions): LogChunkPacker {
  return new LogChunkPacker(options.maxPayloadBytes() - PAYLOAD_MARGIN_BYTES);
}
