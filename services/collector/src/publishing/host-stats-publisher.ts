// Hands host samples to the publish queue, validated against the contract, on the host's subject
// with a message id that makes a republished sample count once.
import { checkedEncoders, type HostStatsMessage, type Subjects } from "@crowsnest/shared/agent";
import type { MessageQueue } from "./stats-publisher.ts";

export type HostPublishResult =
  | { readonly status: "queued" }
  | { readonly status: "invalid"; readonly detail: string };

/** `<host>/host/<ts>`: one sample of one host. */
export function hostStatsMessageId(message: HostStatsMessage): string {
  return `${message.host}/host/${message.ts}`;
}

export class HostStatsPublisher {
  readonly #queue: MessageQueue;
  readonly #subjects: Subjects;

  constructor(options: { queue: MessageQueue; subjects: Subjects }) {
    this.#queue = options.queue;
    this.#subjects = options.subjects;
  }

  publish(message: HostStatsMessage): HostPublishResult {
    const encoded = checkedEncoders.hostStats.encode(message);
    if (!encoded.ok) return { status: "invalid", detail: encoded.detail };
    this.#queue.enqueue({
      subject: this.#subjects.hostStats(message.host),
      payload: encoded.data,
      msgID: hostStatsMessageId(message),
    });
    return { status: "queued" };
  }
}
