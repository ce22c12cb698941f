// The watcher's publish queue: the agents' shared PublishQueue with one message in flight at a
// time, so events are stored in the order the runtime reported them even across a retry (a
// consumer reads a container's die before its destroy), and a bounded backlog for an outage.
import type { Logger } from "@crowsnest/shared/agent";
import { type JetStreamPublisher, PublishQueue } from "@crowsnest/shared/publishing";

/** Messages held while NATS is unreachable; beyond it the oldest are dropped. */
const MAX_QUEUED_MESSAGES = 10_000;

export const DEFAULT_PUBLISH_STOP_TIMEOUT_MS = 3000;

export function createWatcherQueue(js: JetStreamPublisher, logger: Logger): PublishQueue {
  return new PublishQueue({ js, logger, maxBuffered: MAX_QUEUED_MESSAGES, maxInFlight: 1 });
}
