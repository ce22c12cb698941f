// The transitions a watcher missed, from what it last knew of each object to what the runtime
// shows now, whatever the runtime: every object present on either side is handed to the
// runtime's differ once, and each transition comes out once, marked `synthesized: true`.
//
// The differ gives each transition the id it would have had live wherever the runtime's times
// allow (Docker's StartedAt / FinishedAt / Created, a Kubernetes container's run), else an id
// made from what was recovered, never from the clock: the same recovered and current state
// then always yield the same ids, so a recovery that is repeated (the watcher crashed before it
// recorded what it published) republishes the same ids, which JetStream stores once within its
// duplicate window. Used by the reconnect path (ContainerStateTracker.reconcile) and by the
// restart recovery alike.
import type { EventMessage } from "@crowsnest/shared/agent";

/**
 * The transitions of one object, oldest first. `known` undefined: the watcher did not know it
 * (created while it was not looking); `current` undefined: it is gone.
 */
export type ObjectDiff<Known, Current> = (
  key: string,
  known: Known | undefined,
  current: Current | undefined,
) => readonly EventMessage[];

/**
 * Every missed transition once: objects in `current` order first, then the ones that are gone,
 * in `known` order; an id yielded twice (two objects' differ agreeing) comes out once.
 */
export function missedTransitions<Known, Current>(
  known: ReadonlyMap<string, Known>,
  current: ReadonlyMap<string, Current>,
  diff: ObjectDiff<Known, Current>,
): EventMessage[] {
  const out: EventMessage[] = [];
  const yielded = new Set<string>();
  const take = (events: readonly EventMessage[]): void => {
    for (const event of events) {
      if (yielded.has(event.event_id)) continue;
      yielded.add(event.event_id);
      out.push(event.synthesized ? event : { ...event, synthesized: true });
    }
  };
  for (const [key, now] of current) take(diff(key, known.get(key), now));
  for (const [key, before] of known) if (!current.has(key)) take(diff(key, before, undefined));
  return out;
}
