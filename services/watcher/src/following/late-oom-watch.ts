// Lets a `die` wait a moment for an `oom` that the runtime sends after it. dockerd (and
// containerd's shim) handle the kernel's OOM notice and the exit on separate paths and now and
// then report the exit first (seen 84 ms early with dockerd). A runtime's stream is read all the
// while events are handled one after another, so the `oom` is noted here as soon as it arrives,
// before its turn comes to be handled.

export interface LateOomWatchOptions {
  /** How far apart, in dockerd's clock, an `oom` and a `die` can be and still be one kill. */
  windowMs: number;
}

export class LateOomWatch {
  readonly #windowNs: bigint;
  /** `oom` lines that arrived and have not been handled yet, by container. */
  readonly #arrived = new Map<string, bigint>();
  readonly #waiters = new Map<string, Set<() => void>>();

  constructor(options: LateOomWatchOptions) {
    this.#windowNs = BigInt(options.windowMs) * 1_000_000n;
  }

  /** An `oom` arrived (it is handled later, in its turn). */
  noteOom(containerId: string, timeNano: bigint): void {
    this.#arrived.set(containerId, timeNano);
    for (const wake of this.#waiters.get(containerId) ?? []) wake();
  }

  /** The `oom` of this time has had its turn: no `die` waits for it any more. */
  handled(containerId: string, timeNano: bigint): void {
    if (this.#arrived.get(containerId) === timeNano) this.#arrived.delete(containerId);
  }

  /**
   * Whether an `oom` of the container close to `dieNano` has arrived, or arrives within
   * `waitMs`; resolves false at once when `signal` aborts.
   */
  async arrives(containerId: string, dieNano: bigint, waitMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.#near(containerId, dieNano)) return true;
    if (signal.aborted || waitMs <= 0) return false;
    let waiters = this.#waiters.get(containerId);
    if (waiters === undefined) {
      waiters = new Set();
      this.#waiters.set(containerId, waiters);
    }
    const set = waiters;
    let wake = (): void => undefined;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      wake = resolve;
      set.add(wake);
      timer = setTimeout(resolve, waitMs);
      signal.addEventListener("abort", wake, { once: true });
    });
    clearTimeout(timer);
    signal.removeEventListener("abort", wake);
    set.delete(wake);
    if (set.size === 0) this.#waiters.delete(containerId);
    return this.#near(containerId, dieNano);
  }

  #near(containerId: string, dieNano: bigint): boolean {
    const oomNano = this.#arrived.get(containerId);
    if (oomNano === undefined) return false;
    const apart = oomNano >= dieNano ? oomNano - dieNano : dieNano - oomNano;
    return apart <= this.#windowNs;
  }
}
