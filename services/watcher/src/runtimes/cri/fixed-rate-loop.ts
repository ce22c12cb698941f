// The CRI watcher's poll schedule: a run starts every interval, counted from the start of the
// previous run, so a run's own duration does not push the next one later and a change waits at
// most one interval plus one run. A run that outlasts the interval is never overlapped: the next
// starts as soon as it ends, and the start times it missed are skipped, not caught up in a burst.
// wake() starts the next run now (a runtime event); a wake during a run starts another right
// after it, since that run may have listed the runtime before the change. The clock is injected,
// so unit tests drive the schedule by hand.
import { abortableSleep } from "@crowsnest/shared/util/abortable-sleep";

export interface LoopClock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts; never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: LoopClock = { now: Date.now, sleep: abortableSleep };

export interface FixedRateLoop {
  /** Starts the next run now rather than at its time. */
  wake(): void;
  /** Settles once `signal` has aborted and the run in progress has ended. */
  readonly done: Promise<void>;
}

/** Runs `run` (which handles its own failures: a rejection would end the loop) on the schedule above. */
export function runAtFixedRate(
  run: () => Promise<void>,
  options: { intervalMs: number; signal: AbortSignal; clock?: LoopClock },
): FixedRateLoop {
  const { intervalMs, signal } = options;
  const clock = options.clock ?? systemClock;
  let woken = false;
  let cutSleep: (() => void) | undefined;
  const loop = async (): Promise<void> => {
    while (!signal.aborted) {
      const startedAtMs = clock.now();
      woken = false;
      await run();
      if (woken) continue;
      const early = new AbortController();
      cutSleep = () => early.abort();
      await clock.sleep(
        Math.max(0, startedAtMs + intervalMs - clock.now()),
        AbortSignal.any([signal, early.signal]),
      );
      cutSleep = undefined;
    }
  };
  return {
    wake() {
      woken = true;
      cutSleep?.();
    },
    done: loop(),
  };
}
