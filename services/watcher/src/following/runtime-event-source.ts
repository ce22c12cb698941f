// The seam between the event-following core (event-stream-watcher.ts) and a runtime that has an
// event stream and a container list (Docker, containerd). The runtime yields normalized events in
// order and marks each (re)subscription; on the mark the core looks at every container, publishes
// the transitions it missed and the inventory, and only then does the runtime deliver the new
// subscription's events. So a runtime knows nothing of the tracker, the queue or the record of
// what was published, and every runtime gets the same guarantee: each transition published once.
import type { ContainerInfo, EventMessage } from "@crowsnest/shared/agent";
import type { ContainerSnapshot } from "../resync/container-state-tracker.ts";

/** `startup` for the first subscription, `resync` after each reconnect. */
export type SubscriptionReason = "startup" | "resync";

export interface ResumePoint {
  /**
   * The runtime's time (ns, the host's clock) up to which what the watcher recorded before it
   * stopped reflects everything: a runtime that can replay its events replays what came later.
   */
  readonly afterNano: bigint;
}

/** What the core does with what the runtime yields. Called in order, one at a time. */
export interface RuntimeEventSink {
  /**
   * A subscription is in place (events from now on reach the runtime), and what the runtime
   * replays of the gap before it has been delivered: the core looks at every container. The
   * runtime holds the new subscription's events back until this resolves. `signal` aborts when
   * the source stops.
   */
  subscribed(reason: SubscriptionReason, signal: AbortSignal): Promise<void>;
  /** A normalized event seen live (or replayed): the core publishes it unless it was synthesized already. */
  event(event: EventMessage): void;
  /**
   * An event the runtime recognized as a repeat of one it delivered (a second `oom` of one
   * kill): not published, but the record of what was published moves past it.
   */
  repeated(event: EventMessage): void;
}

/** A runtime's event stream, followed with reconnects, as the core consumes it. */
export interface RuntimeEventSource {
  /** With `resume`, a runtime that can replay its events replays what came after it first. */
  start(sink: RuntimeEventSink, resume: ResumePoint | undefined): void;
  /** Stops following and waits for what is being delivered. */
  stop(): Promise<void>;
  /** Whether the event stream is open right now (the heartbeat's `connected`). */
  isConnected(): boolean;
}

/** One container as a look at every container saw it: for the comparison, and for the inventory. */
export interface ObservedContainer {
  readonly snapshot: ContainerSnapshot;
  readonly info: ContainerInfo;
}

/** Looks at every container of the host; rejects when the runtime cannot list them. */
export type ContainerObserver = () => Promise<ObservedContainer[]>;
