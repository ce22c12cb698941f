// Remembers recent `oom` events per container so the `die` that follows can say it was an
// OOM kill (exit 137 alone looks like any SIGKILL; prior art classified it as a clean stop),
// and so a second `oom` dockerd sends for the same kill is recognized as a repeat.

export interface OomMemoryOptions {
  /** How long before a `die` an `oom` still counts, in the runtime's clock. */
  windowMs: number;
  /**
   * An `oom` this soon after the previous one of the same run, in the runtime's clock, is the
   * same kill reported twice (dockerd does that about once in 16 OOM kills).
   */
  repeatWindowMs: number;
  /** Containers remembered at most; the oldest is forgotten first. */
  maxContainers: number;
}

// The kernel kills and dockerd reports `die` within milliseconds of `oom`; ten seconds leaves
// room for a loaded host without blaming a later, unrelated exit of a container whose child
// process (not PID 1) was OOM-killed. dockerd's repeated `oom` comes within milliseconds too;
// one second keeps two real kills of a restarting container apart (a restart takes longer).
export const DEFAULT_OOM_MEMORY: OomMemoryOptions = {
  windowMs: 10_000,
  repeatWindowMs: 1000,
  maxContainers: 1024,
};

/** A map of container id → time that forgets its oldest entry beyond a size. */
class BoundedTimes {
  readonly #times = new Map<string, bigint>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  get size(): number {
    return this.#times.size;
  }
  get(id: string): bigint | undefined {
    return this.#times.get(id);
  }
  set(id: string, timeNano: bigint): void {
    this.#times.delete(id);
    this.#times.set(id, timeNano);
    if (this.#times.size > this.#max) {
      const oldest = this.#times.keys().next();
      if (!oldest.done) this.#times.delete(oldest.value);
    }
  }
  delete(id: string): void {
    this.#times.delete(id);
  }
}

export class OomMemory {
  readonly #windowNs: bigint;
  readonly #repeatWindowNs: bigint;
  /** The newest `oom` not yet followed by a `die`, `start` or `destroy`. */
  readonly #lastOomNano: BoundedTimes;
  /** The first `oom` of a kill, kept across the `die` until the next run. */
  readonly #killOomNano: BoundedTimes;

  constructor(options: OomMemoryOptions = DEFAULT_OOM_MEMORY) {
    this.#windowNs = BigInt(options.windowMs) * 1_000_000n;
    this.#repeatWindowNs = BigInt(options.repeatWindowMs) * 1_000_000n;
    this.#lastOomNano = new BoundedTimes(options.maxContainers);
    this.#killOomNano = new BoundedTimes(options.maxContainers);
  }

  get size(): number {
    return this.#lastOomNano.size;
  }

  wasOomKilled(containerId: string, dieTimeNano: bigint): boolean {
    const oomAt = this.#lastOomNano.get(containerId);
    return oomAt !== undefined && oomAt <= dieTimeNano && dieTimeNano - oomAt <= this.#windowNs;
  }

  /** Whether an `oom` repeats the one of the same kill published just before (it must not be published). */
  isRepeatedOom(containerId: string, timeNano: bigint): boolean {
    const first = this.#killOomNano.get(containerId);
    if (first === undefined) return false;
    const apart = timeNano >= first ? timeNano - first : first - timeNano;
    return apart <= this.#repeatWindowNs;
  }

  /** Feeds every published event, in order. */
  observe(action: string, containerId: string, timeNano: bigint): void {
    switch (action) {
      case "oom":
        this.#lastOomNano.set(containerId, timeNano);
        this.#killOomNano.set(containerId, timeNano);
        break;
      case "die":
        // The run ended: an earlier oom says nothing about the next exit (but a repeat of it
        // may still come).
        this.#lastOomNano.delete(containerId);
        break;
      case "start":
      case "destroy":
        this.#lastOomNano.delete(containerId);
        this.#killOomNano.delete(containerId);
        break;
      default:
        break;
    }
  }
}
