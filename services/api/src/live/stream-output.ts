// The writing end of one live stream: what was written and has not left the process yet (in
// the SSE writer's queue and in the socket's own write buffer), and the two rules that end a
// stream whose client stopped reading, so that it never holds memory for long:
// - a write that the client has not taken for `stallTimeoutMs` (its socket is full and it reads
//   nothing) reports a stall;
// - `end()` closes the stream and gives the client `graceMs` to take the rest (the final
//   `cutoff` event); after that the connection is destroyed with whatever it still buffers.
import type { SSEStreamingApi } from "hono/streaming";
import type { Backlog } from "./live-feed.ts";

/** The subset of Node's ServerResponse this needs (absent when the app runs without a server). */
export interface OutgoingSocket {
  /** Bytes written and not yet handed to the kernel: the response's buffer and its socket's. */
  readonly writableLength: number;
  readonly closed: boolean;
  destroy(): void;
  once(event: "close", listener: () => void): unknown;
}

export class StreamOutput {
  readonly #sse: SSEStreamingApi;
  readonly #outgoing: OutgoingSocket | undefined;
  readonly #stallTimeoutMs: number;
  readonly #onStall: () => void;
  #pendingEvents = 0;
  #pendingBytes = 0;
  #stallTimer: NodeJS.Timeout | undefined;
  #ended: Promise<void> | undefined;

  constructor(options: {
    sse: SSEStreamingApi;
    outgoing: OutgoingSocket | undefined;
    stallTimeoutMs: number;
    onStall: () => void;
  }) {
    this.#sse = options.sse;
    this.#outgoing = options.outgoing;
    this.#stallTimeoutMs = options.stallTimeoutMs;
    this.#onStall = options.onStall;
  }

  /** Events and bytes written that the client's socket has not taken. */
  backlog(): Backlog {
    return {
      events: this.#pendingEvents,
      bytes: this.#pendingBytes + (this.#outgoing?.writableLength ?? 0),
    };
  }

  /** True while a write waits for the client: nothing else (a keep-alive) needs to be queued. */
  get waiting(): boolean {
    return this.#pendingBytes > 0;
  }

  /** Writes one SSE event; resolves when the stream has taken it. */
  writeEvent(event: string, data: string, id?: string): Promise<void> {
    const text = `event: ${event}\ndata: ${data}\n${id === undefined ? "" : `id: ${id}\n`}\n`;
    return this.#write(text, 1);
  }

  writeComment(comment: string): Promise<void> {
    return this.#write(`: ${comment}\n\n`, 0);
  }

  async #write(text: string, events: number): Promise<void> {
    const bytes = Buffer.byteLength(text);
    this.#pendingEvents += events;
    this.#pendingBytes += bytes;
    if (this.#ended === undefined) this.#stallTimer ??= this.#armStallTimer();
    try {
      // Hono's writer never rejects: a write to a closed stream just resolves.
      await this.#sse.write(text);
    } finally {
      this.#pendingEvents -= events;
      this.#pendingBytes -= bytes;
      // Progress: the client took something. The clock restarts for what still waits.
      clearTimeout(this.#stallTimer);
      this.#stallTimer =
        this.#pendingBytes > 0 && this.#ended === undefined ? this.#armStallTimer() : undefined;
    }
  }

  #armStallTimer(): NodeJS.Timeout {
    return setTimeout(() => this.#onStall(), this.#stallTimeoutMs);
  }

  /**
   * Closes the stream after what was written. A client that has not taken it all within
   * `graceMs` is disconnected: its connection is destroyed, and with it what the socket buffers.
   */
  end(graceMs: number): Promise<void> {
    this.#ended ??= this.#end(graceMs);
    return this.#ended;
  }

  async #end(graceMs: number): Promise<void> {
    // From here the grace period, not the stall clock, bounds how long the client may take.
    clearTimeout(this.#stallTimer);
    const outgoing = this.#outgoing;
    const finished =
      outgoing === undefined
        ? this.#sse.close()
        : new Promise<void>((resolve) => {
            if (outgoing.closed) resolve();
            else outgoing.once("close", resolve);
            void this.#sse.close();
          });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), graceMs);
    });
    const outcome = await Promise.race([finished, expired]);
    clearTimeout(timer);
    if (outcome === "expired") {
      if (outgoing) outgoing.destroy();
      else this.#sse.abort();
    }
  }
}
