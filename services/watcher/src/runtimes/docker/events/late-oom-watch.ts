// Lets a `die` wait a moment for an `oom` that dockerd sends after it. dockerd handles
// containerd's OOM and exit notices on separate paths and now and then logs the `die` first
// (seen 84 ms early); the inspect read right after such a `die` may not say OOMKilled yet. The
// stream is read all the while events are handled one after another, so the `oom` is seen
// here as soon as its line arrives, before its turn comes to be handled.
import { dockerEventTimeNano, splitDockerAction } from "./docker-event-normalizer.ts";
import { parseDockerEventLine } from "./docker-event-parser.ts";

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

  /** Sees every line of the stream as it arrives, before it is handled. */
  noteLine(line: string): void {
    // Most lines are not about an oom: only those that could be are parsed.
    if (!line.includes('"oom')) return;
    const parsed = parseDockerEventLine(line);
    if (!parsed.ok || parsed.event.type !== "container") return;
    if (splitDockerAction(parsed.event.action).action !== "oom") return;
    const timeNano = dockerEventTimeNano(parsed.event);
    const id = parsed.event.actorId;
    if (timeNano === undefined || id === "") return;
    this.#arrived.set(id, timeNano);
    for (const wake of this.#waiters.get(id) ?? []) wake();
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
