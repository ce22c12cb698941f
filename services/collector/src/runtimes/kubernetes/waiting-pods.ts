// The kubelet's readings of pods whose spec the collector does not know yet, kept until it does.
// On the bus a null `mem_limit` or `cpu_limit_cores` means "unlimited", so a container's sample
// is never published before its pod's limits are read: its readings wait here (for a new pod,
// the one GET that reads it, normally the same tick) and are published in order once they are.
// Bounded: a pod keeps its latest WAITING_READINGS_MAX readings, and a pod that leaves its
// node's summary before it could be read takes its readings with it; both are counted as dropped.
import type { SummaryPod } from "./summary-reading.ts";

/** Readings kept per pod: at the kubelet's pace (10–15 s), over a minute of samples. */
export const WAITING_READINGS_MAX = 6;

interface Waiting {
  node: string;
  readings: SummaryPod[];
}

export class WaitingPods {
  readonly #pods = new Map<string, Waiting>();

  /** How many pods have readings waiting. */
  get size(): number {
    return this.#pods.size;
  }

  /**
   * Keeps `pod`'s reading (unless it is the one kept last: the kubelet has not read the pod
   * again); returns how many older readings were dropped to stay within the bound.
   */
  hold(node: string, pod: SummaryPod): number {
    const key = keyOf(pod);
    const waiting = this.#pods.get(key) ?? { node, readings: [] };
    this.#pods.set(key, waiting);
    const last = waiting.readings.at(-1);
    if (last !== undefined && readTimes(last) === readTimes(pod)) return 0;
    waiting.readings.push(pod);
    const over = Math.max(0, waiting.readings.length - WAITING_READINGS_MAX);
    waiting.readings.splice(0, over);
    return over;
  }

  /** The readings kept for `pod`, oldest first, handed over and forgotten. */
  release(pod: SummaryPod): SummaryPod[] {
    const key = keyOf(pod);
    const readings = this.#pods.get(key)?.readings ?? [];
    this.#pods.delete(key);
    return readings;
  }

  /**
   * Forgets the pods of nodes whose summary was read (`readNodes`) but no longer reports them
   * (`present`, as keyed by `keyOf`), and of nodes gone from `nodes`; returns how many readings
   * went with them.
   */
  forgetGone(
    nodes: ReadonlySet<string>,
    readNodes: ReadonlySet<string>,
    present: ReadonlySet<string>,
  ): number {
    let dropped = 0;
    for (const [key, waiting] of this.#pods) {
      if (!nodes.has(waiting.node) || (readNodes.has(waiting.node) && !present.has(key))) {
        dropped += waiting.readings.length;
        this.#pods.delete(key);
      }
    }
    return dropped;
  }
}

/** One pod instance: `namespace/name/uid`. */
export function keyOf(pod: Pick<SummaryPod, "namespace" | "name" | "uid">): string {
  return `${pod.namespace}/${pod.name}/${pod.uid ?? ""}`;
}

/** When the kubelet read each of the pod's containers: equal when it has not read them again. */
function readTimes(pod: SummaryPod): string {
  return pod.containers.map((container) => `${container.name}@${container.readAtMs}`).join(",");
}
