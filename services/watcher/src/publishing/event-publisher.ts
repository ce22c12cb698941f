// The one way a watcher event reaches the bus, whatever the runtime and whether it was seen live
// or synthesized after a gap: validated against the contract, on the subject of its own host,
// runtime, kind and action, with its event id as the JetStream message id (a republished event
// is stored once). An event that fails validation is logged and not published.
import { checkedEncoders, type EventMessage, type Logger, type Subjects } from "@crowsnest/shared/agent";
import type { PublishQueue } from "@crowsnest/shared/publishing";

/** Queues one event; false when it failed validation and was not queued. */
export type EventPublisher = (event: EventMessage) => boolean;

export interface EventPublisherOptions {
  queue: Pick<PublishQueue, "enqueue">;
  subjects: Subjects;
  logger: Logger;
}

export function createEventPublisher(options: EventPublisherOptions): EventPublisher {
  const { queue, subjects, logger } = options;
  return (event) => {
    const encoded = checkedEncoders.event.encode(event);
    if (!encoded.ok) {
      logger.error(
        { detail: encoded.detail, event_id: event.event_id, synthesized: event.synthesized },
        "event failed validation; not published",
      );
      return false;
    }
    queue.enqueue({
      subject: subjects.event(event.host, event.runtime, event.kind, event.action),
      payload: encoded.data,
      msgID: event.event_id,
    });
    return true;
  };
}
