// Who is alive: follows the heartbeats every service publishes on `<prefix>.v1.agents.>` and
// keeps the latest per (host, service). A heartbeat that fails validation is dead-lettered and
// ignored. Each api instance builds its own view from the live subject; after a restart it is
// complete again within one heartbeat interval.
import {
  codecs,
  type DeadletterSink,
  type HeartbeatMessage,
  type Logger,
  type Subjects,
} from "@crowsnest/shared";

/** The subset of a NATS connection the registry needs. */
export interface HeartbeatSource {
  subscribe(subject: string): AsyncIterable<{ subject: string; data: Uint8Array }> & { unsubscribe(): void };
}

export interface AgentStatus extends HeartbeatMessage {
  /** When this api instance received the heartbeat. */
  received_at: string;
  /** True when two heartbeat intervals passed without a new one. */
  stale: boolean;
}

export interface AgentDirectory {
  list(nowMs: number): AgentStatus[];
}

export class AgentRegistry implements AgentDirectory {
  readonly #latest = new Map<string, { heartbeat: HeartbeatMessage; receivedAtMs: number }>();
  readonly #options: {
    source: HeartbeatSource;
    subjects: Subjects;
    deadletters: DeadletterSink;
    logger: Logger;
  };
  #subscription: ReturnType<HeartbeatSource["subscribe"]> | undefined;
  #running: Promise<void> | undefined;

  constructor(options: {
    source: HeartbeatSource;
    subjects: Subjects;
    deadletters: DeadletterSink;
    logger: Logger;
  }) {
    this.#options = options;
  }

  start(): void {
    const subscription = this.#options.source.subscribe(this.#options.subjects.all("agents"));
    this.#subscription = subscription;
    this.#running = (async () => {
      for await (const message of subscription) await this.#receive(message.subject, message.data);
    })();
  }

  async stop(): Promise<void> {
    this.#subscription?.unsubscribe();
    await this.#running;
  }

  async #receive(subject: string, data: Uint8Array): Promise<void> {
    const decoded = codecs.heartbeat.decode(data);
    if (!decoded.ok) {
      await this.#options.deadletters
        .send(subject, data, decoded.reason, decoded.detail)
        .catch((error: unknown) => {
          this.#options.logger.warn({ err: error }, "could not dead-letter a heartbeat");
        });
      return;
    }
    const heartbeat = decoded.value;
    const key = `${heartbeat.host}\u0000${heartbeat.service}`;
    const known = this.#latest.get(key);
    // Out-of-order delivery of an older heartbeat must not make an agent look older than it is.
    if (known && known.heartbeat.ts > heartbeat.ts) return;
    this.#latest.set(key, { heartbeat, receivedAtMs: Date.now() });
  }

  list(nowMs: number): AgentStatus[] {
    return [...this.#latest.values()]
      .map(({ heartbeat, receivedAtMs }) => ({
        ...heartbeat,
        received_at: new Date(receivedAtMs).toISOString(),
        stale: nowMs - receivedAtMs > 2 * heartbeat.interval_ms,
      }))
      .sort((a, b) => a.host.localeCompare(b.host) || a.service.localeCompare(b.service));
  }
}
