// Hastens the CRI watcher's polls after a container's task is deleted, on runtimes whose CRI has
// no event stream (containerd 1.6: GetContainerEvents is UNIMPLEMENTED) but whose socket serves
// containerd's own events. containerd's CRI plugin records a container's exit only once it has
// deleted the task (the shim's cleanup, about 0.1-0.2 s after the exit on a quiet machine, more on
// a busy one); a poll at the next interval would show it up to a whole interval later. So a
// `/tasks/delete` starts a poll at once, and while a poll still shows that container running,
// another follows `settleMs` after it, for at most `maxWaitMs` after the deletion. The polls stay
// the source of truth: a deletion only changes when the next one happens. Timers are injected,
// so unit tests drive it by hand.

export interface ExitHastenerOptions {
  /** Starts the next poll now (or right after the poll in progress). */
  wake: () => void;
  /** The wait between a poll that still shows the container running and the next one. */
  settleMs: number;
  /** How long after its deletion a container is still waited for. */
  maxWaitMs: number;
  now?: () => number;
  setTimer?: (run: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}

export class ExitHastener {
  readonly #options: ExitHastenerOptions;
  readonly #now: () => number;
  /** Containers whose task was deleted, with when, until a poll shows them exited (or gone). */
  readonly #pending = new Map<string, number>();
  #timer: unknown;

  constructor(options: ExitHastenerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** containerd deleted this container's task: poll now. */
  taskDeleted(containerId: string): void {
    if (!this.#pending.has(containerId)) this.#pending.set(containerId, this.#now());
    this.#options.wake();
  }

  /**
   * After every poll: containers the poll shows exited or does not know are done with; while one
   * still shows running, the next poll comes `settleMs` later.
   */
  polled(runningNow: (containerId: string) => boolean): void {
    const nowMs = this.#now();
    for (const [id, deletedAtMs] of this.#pending) {
      if (!runningNow(id) || nowMs - deletedAtMs >= this.#options.maxWaitMs) this.#pending.delete(id);
    }
    if (this.#pending.size === 0 || this.#timer !== undefined) return;
    const setTimer = this.#options.setTimer ?? ((run, ms) => setTimeout(run, ms).unref());
    this.#timer = setTimer(() => {
      this.#timer = undefined;
      this.#options.wake();
    }, this.#options.settleMs);
  }

  stop(): void {
    if (this.#timer !== undefined) (this.#options.clearTimer ?? clearTimeout)(this.#timer as NodeJS.Timeout);
    this.#timer = undefined;
    this.#pending.clear();
  }
}
