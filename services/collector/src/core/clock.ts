// The time source of the collector's scheduling: the real clock in production, a manual one in
// tests, so a test of "ticks every interval" or "ticks no more after stop" advances time itself
// instead of sleeping and hoping a busy machine keeps up.

/** A timer the clock can cancel; what it is belongs to the clock. */
export type ClockTimer = object;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `run` every `intervalMs` until cancelled. */
  setInterval(run: () => void, intervalMs: number): ClockTimer;
  clearInterval(timer: ClockTimer): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setInterval: (run, intervalMs) => setInterval(run, intervalMs),
  // The timers this clock hands out are Node's own.
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout),
};
