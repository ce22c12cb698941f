// The alert state machine, pure: what one sample or event does to a container's alert state,
// and which transitions it emits. The engine (alert-engine.ts) feeds it in sample order under a
// per-container lock and persists what it returns.
//
// - CPU: `cpu_basis` 'core' compares cpu_percent (100 = one core) with the threshold; 'limit'
//   compares the percentage of the container's CPU limit (of all its online CPUs when it has
//   no limit), so 100 = the whole limit.
// - Memory: mem_used as a percentage of mem_limit. A container without a memory limit has no
//   memory alert (a firing one resolves, with a null value).
// - A breach is value >= threshold. `consecutive_breaches` breaches in a row fire; the first
//   sample that does not breach resolves. A sample without the value (cpu_percent null on a
//   first sample or after a restart) neither breaches nor interrupts a run of breaches.
// - Each metric fires and resolves on its own; every change is one transition carrying that
//   metric's own value and threshold, and the state before and after it. Recovery resolves
//   exactly what fired. Disabling alerting (or turning a metric's threshold off) resolves what
//   is firing, with a null threshold.
// - OOM kills and restart loops are event-driven: they fire (and a restart loop resolves)
//   without changing the resource state, so previous_state equals new_state.
import type { AlertState } from "@crowsnest/shared";

export interface AlertSettings {
  enabled: boolean;
  cpuThreshold: number | null;
  cpuBasis: "core" | "limit";
  memThreshold: number | null;
  consecutiveBreaches: number;
  oomAlert: boolean;
  restartLoopCount: number | null;
  restartLoopWindowS: number;
}

export interface FiredAlert {
  at: string;
  value: number | null;
  threshold: number | null;
}

export interface ContainerAlertState {
  state: AlertState;
  cpuBreaches: number;
  memBreaches: number;
  cpuFired: FiredAlert | null;
  memFired: FiredAlert | null;
  restartLoopFired: FiredAlert | null;
  lastOomAt: string | null;
  /** ts of the newest sample evaluated; older or equal samples are not evaluated again. */
  evaluatedThrough: string | null;
}

export type AlertMetric = "cpu" | "memory" | "oom" | "restart_loop";

export interface Transition {
  ts: string;
  metric: AlertMetric;
  change: "fired" | "resolved";
  value: number | null;
  threshold: number | null;
  previousState: AlertState;
  newState: AlertState;
}

export interface AlertSample {
  ts: string;
  cpu_percent: number | null;
  online_cpus: number | null;
  cpu_limit_cores: number | null;
  mem_used: number | null;
  mem_limit: number | null;
}

/** Two OOM signals of one kill (Docker sends `oom`, then `die` with oom_killed) count once. */
export const OOM_DEDUP_MS = 10_000;

export function initialAlertState(): ContainerAlertState {
  return {
    state: "normal",
    cpuBreaches: 0,
    memBreaches: 0,
    cpuFired: null,
    memFired: null,
    restartLoopFired: null,
    lastOomAt: null,
    evaluatedThrough: null,
  };
}

export function stateOf(cpuFiring: boolean, memFiring: boolean): AlertState {
  if (cpuFiring && memFiring) return "both_alert";
  if (cpuFiring) return "cpu_alert";
  if (memFiring) return "mem_alert";
  return "normal";
}

/** The CPU value compared with the threshold, or null when the sample cannot tell. */
export function cpuValue(sample: AlertSample, basis: AlertSettings["cpuBasis"]): number | null {
  if (sample.cpu_percent === null) return null;
  if (basis === "core") return sample.cpu_percent;
  const cores = sample.cpu_limit_cores ?? sample.online_cpus;
  return cores === null || cores <= 0 ? null : sample.cpu_percent / cores;
}

/** Memory as % of the limit; "no_limit" when the container has none (no memory alert then). */
export function memValue(sample: AlertSample): number | null | "no_limit" {
  if (sample.mem_limit === null || sample.mem_limit <= 0) return "no_limit";
  if (sample.mem_used === null) return null;
  return (sample.mem_used / sample.mem_limit) * 100;
}

/** Applies one sample (newer than evaluatedThrough) to `state` in place; returns its transitions. */
export function applySample(
  state: ContainerAlertState,
  settings: AlertSettings | undefined,
  sample: AlertSample,
): Transition[] {
  const transitions: Transition[] = [];
  const active = settings?.enabled === true ? settings : undefined;
  const step = (metric: "cpu" | "memory") => {
    const isCpu = metric === "cpu";
    const threshold = active ? (isCpu ? active.cpuThreshold : active.memThreshold) : null;
    const measured = isCpu ? cpuValue(sample, active?.cpuBasis ?? "core") : memValue(sample);
    const fired = isCpu ? state.cpuFired : state.memFired;
    const setFired = (value: FiredAlert | null) => {
      if (isCpu) state.cpuFired = value;
      else state.memFired = value;
    };
    const setBreaches = (value: number) => {
      if (isCpu) state.cpuBreaches = value;
      else state.memBreaches = value;
    };
    const change = (kind: "fired" | "resolved", value: number | null, shownThreshold: number | null) => {
      const previousState = state.state;
      setFired(kind === "fired" ? { at: sample.ts, value, threshold: shownThreshold } : null);
      state.state = stateOf(state.cpuFired !== null, state.memFired !== null);
      transitions.push({
        ts: sample.ts,
        metric,
        change: kind,
        value,
        threshold: shownThreshold,
        previousState,
        newState: state.state,
      });
    };
    if (threshold === null || measured === "no_limit" || active === undefined) {
      setBreaches(0);
      if (fired) change("resolved", measured === "no_limit" ? null : measured, threshold);
      return;
    }
    if (measured === null) return;
    if (measured >= threshold) {
      const breaches = Math.min((isCpu ? state.cpuBreaches : state.memBreaches) + 1, 1_000_000);
      setBreaches(breaches);
      if (!fired && breaches >= active.consecutiveBreaches) change("fired", measured, threshold);
    } else {
      setBreaches(0);
      if (fired) change("resolved", measured, threshold);
    }
  };
  step("cpu");
  step("memory");
  state.evaluatedThrough = sample.ts;
  return transitions;
}

/** An OOM kill at `ts`: fires once per kill when the container's alerting wants it. */
export function applyOom(
  state: ContainerAlertState,
  settings: AlertSettings | undefined,
  ts: string,
): Transition | undefined {
  if (settings?.enabled !== true || !settings.oomAlert) return undefined;
  if (state.lastOomAt !== null && Math.abs(Date.parse(ts) - Date.parse(state.lastOomAt)) <= OOM_DEDUP_MS) {
    return undefined;
  }
  if (state.lastOomAt === null || ts > state.lastOomAt) state.lastOomAt = ts;
  return {
    ts,
    metric: "oom",
    change: "fired",
    value: null,
    threshold: null,
    previousState: state.state,
    newState: state.state,
  };
}

/**
 * `restarts` restarts within the configured window ending at `ts`: fires when they reach the
 * configured count; resolves (from the sweep) when they fell below it or alerting was turned off.
 */
export function applyRestartCount(
  state: ContainerAlertState,
  settings: AlertSettings | undefined,
  restarts: number,
  ts: string,
): Transition | undefined {
  const count = settings?.enabled === true ? settings.restartLoopCount : null;
  const firing = state.restartLoopFired !== null;
  if (count !== null && restarts >= count && !firing) {
    state.restartLoopFired = { at: ts, value: restarts, threshold: count };
    return {
      ts,
      metric: "restart_loop",
      change: "fired",
      value: restarts,
      threshold: count,
      previousState: state.state,
      newState: state.state,
    };
  }
  if (firing && (count === null || restarts < count)) {
    state.restartLoopFired = null;
    return {
      ts,
      metric: "restart_loop",
      change: "resolved",
      value: restarts,
      threshold: count,
      previousState: state.state,
      newState: state.state,
    };
  }
  return undefined;
}
