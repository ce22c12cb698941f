// Remembers recent `oom` events per container so the `die` that follows can say it was an
// OOM kill: exit 137 alone looks like any SIGKILL (prior art classified it as a clean stop).

export interface OomMemoryOptions {
  /** How long before a `die` an `oom` still counts, in the runtime's clock. */
  windowMs: number;
  /** Containers remembered at most; the oldest is forgotten first. */
  maxContainers: number;
}

// The kernel kills and dockerd reports `die` within milliseconds of `oom`; ten seconds leaves
// room for a loaded host without blaming a later, unrelated exit of a container whose child
// process (not PID 1) was OOM-killed.
export const DEFAULT_OOM_MEMORY: OomMemoryOptions = { windowMs: 10_000, maxContainers: 1024 };

export class OomMemory {
  readonly #windowNs: bigint;
  readonly #maxContainers: number;
  readonly #lastOomNano = new Map<string, bigint>();

  constructor(options: OomMemoryOptions = DEFAULT_OOM_MEMORY) {
    this.#windowNs = BigInt(options.windowMs) * 1_000_000n;
    this.#maxContainers = options.maxContainers;
  }

  get size(): number {
    return this.#lastOomNano.size;
  }

  wasOomKilled(containerId: string, dieTimeNano: bigint): boolean {
    const oomAt = this.#lastOomNano.get(containerId);
    return oomAt !== undefined && oomAt <= dieTimeNano && dieTimeNano - oomAt <= this.#windowNs;
  }

  /** Feeds every published event, in order. */
  observe(action: string, containerId: string, timeNano: bigint): void {
    switch (action) {
      case "oom":
        this.#lastOomNano.delete(containerId);
        this.#lastOomNano.set(containerId, timeNano);
        if (this.#lastOomNano.size > this.#maxContainers) {
          const oldest = this.#lastOomNano.keys().next();
          if (!oldest.done) this.#lastOomNano.delete(oldest.value);
        }
        break;
      case "die":
      case "start":
      case "destroy":
        // A run ended or began: an earlier oom says nothing about the next exit.
        this.#lastOomNano.delete(containerId);
        break;
      default:
        break;
    }
  }
}
