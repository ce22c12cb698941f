// The subset of a NATS connection the watcher's request/reply service uses, as a structural
// interface: main.ts passes the bus's connection, tests a real one too (they need a server
// for no-responders), and nothing here depends on the NATS client's types.

export interface RpcMessage {
  readonly subject: string;
  /** Where the requester listens; absent on a plain publish, which cannot be answered. */
  readonly reply?: string | undefined;
  readonly data: Uint8Array;
}

export interface RpcSubscription extends AsyncIterable<RpcMessage> {
  /** Stops intake; the iteration ends once the messages already received are handed out. */
  drain(): Promise<void>;
}

export interface RpcConnection {
  subscribe(subject: string): RpcSubscription;
  publish(subject: string, payload: Uint8Array): void;
  /**
   * Publishes with a reply inbox and waits for an answer. Rejects at once when nobody is
   * subscribed to `subject` (NATS "no responders"), after `timeout` when nobody answers.
   */
  request(subject: string, payload: Uint8Array, options: { timeout: number }): Promise<unknown>;
  /** Resolves when the server has everything published so far: backpressure for a long reply. */
  flush(): Promise<void>;
  readonly info?: { readonly max_payload: number } | undefined;
}

/** nats.js reports "nobody is subscribed" as a RequestError caused by a NoRespondersError. */
export function isNoRespondersError(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    if (current.name === "NoResponders" || current.name === "NoRespondersError") return true;
    current = current.cause;
  }
  return false;
}
