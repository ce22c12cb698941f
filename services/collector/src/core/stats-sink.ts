// Where the collector hands its samples: the NATS publish queue in production, a plain object in tests.
import type { StatsMessage } from "@crowsnest/shared/agent";

export type PublishResult =
  | { readonly status: "published" }
  /** Accepted for publishing: the sink sends it in the background and keeps it through a bus outage. */
  | { readonly status: "queued" }
  /** The message failed the contract's schema and was not sent. */
  | { readonly status: "invalid"; readonly detail: string }
  /** The bus did not take it; the sink has logged the outage. */
  | { readonly status: "failed" };

export interface StatsSink {
  publish(message: StatsMessage): PublishResult | Promise<PublishResult>;
  /**
   * The samples handed over since the last call are all there are for now (a tick's pass is
   * done): a sink that waits to gather messages into one write can send them at once.
   */
  batchComplete?(): void;
}
