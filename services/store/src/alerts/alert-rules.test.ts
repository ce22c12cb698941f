// The alert state machine on its own: which samples and events fire and resolve what.
import { describe, expect, it } from "vitest";
import {
  type AlertSample,
  type AlertSettings,
  applyOom,
  applyRestartCount,
  applySample,
  initialAlertState,
  type Transition,
} from "./alert-rules.ts";

const GiB = 1024 ** 3;
const settings: AlertSettings = {
  enabled: true,
  cpuThreshold: 80,
  cpuBasis: "core",
  memThreshold: 90,
  consecutiveBreaches: 2,
  oomAlert: true,
  restartLoopCount: 3,
  restartLoopWindowS: 600,
};

let second = 0;
function sample(
  cpu: number | null,
  memPercent: number | null,
  extra: Partial<AlertSample> = {},
): AlertSample {
  second += 10;
  return {
    ts: new Date(Date.UTC(2026, 10, 21, 10, 0, second)).toISOString(),
    cpu_percent: cpu,
    online_cpus: 4,
    cpu_limit_cores: null,
    mem_used: memPercent === null ? null : (memPercent / 100) * GiB,
    mem_limit: GiB,
    ...extra,
  };
}

const brief = (transitions: Transition[]) =>
  transitions.map(
    (t) => `${t.metric} ${t.change} ${t.value} / ${t.threshold}: ${t.previousState} -> ${t.newState}`,
  );

describe("applySample", () => {
  it("goes normal → cpu → both → mem → normal, one transition per change with its own value", () => {
    const state = initialAlertState();
    const run = (...samples: AlertSample[]) => brief(samples.flatMap((s) => applySample(state, settings, s)));
    expect(run(sample(85, 10))).toEqual([]); // one breach is not enough
    expect(run(sample(95, 10))).toEqual(["cpu fired 95 / 80: normal -> cpu_alert"]);
    expect(run(sample(96, 91))).toEqual([]);
    expect(run(sample(97, 92.5))).toEqual(["memory fired 92.5 / 90: cpu_alert -> both_alert"]);
    expect(run(sample(10, 93))).toEqual(["cpu resolved 10 / 80: both_alert -> mem_alert"]);
    expect(state.state).toBe("mem_alert");
    expect(run(sample(10, 50))).toEqual(["memory resolved 50 / 90: mem_alert -> normal"]);
    expect(state).toMatchObject({
      state: "normal",
      cpuBreaches: 0,
      memBreaches: 0,
      cpuFired: null,
      memFired: null,
    });
  });

  it("does not fire when a run of breaches is interrupted by a sample below the threshold", () => {
    const state = initialAlertState();
    const out = [sample(90, 95), sample(10, 10), sample(90, 95), sample(10, 10), sample(90, 95)].flatMap(
      (s) => applySample(state, settings, s),
    );
    expect(out).toEqual([]);
    expect(state.state).toBe("normal");
  });

  it("treats a missing CPU value as no news: it neither breaches nor interrupts", () => {
    const state = initialAlertState();
    expect(applySample(state, settings, sample(90, 10))).toEqual([]);
    expect(applySample(state, settings, sample(null, 10))).toEqual([]);
    expect(brief(applySample(state, settings, sample(90, 10)))).toEqual([
      "cpu fired 90 / 80: normal -> cpu_alert",
    ]);
  });

  it("fires on the threshold itself (value >= threshold) and honours consecutive_breaches", () => {
    const state = initialAlertState();
    const three = { ...settings, consecutiveBreaches: 3 };
    expect(applySample(state, three, sample(80, 10))).toEqual([]);
    expect(applySample(state, three, sample(80, 10))).toEqual([]);
    expect(brief(applySample(state, three, sample(80, 10)))).toEqual([
      "cpu fired 80 / 80: normal -> cpu_alert",
    ]);
  });

  it("keeps the state and the count of breaches when the configuration changes", () => {
    const state = initialAlertState();
    applySample(state, settings, sample(90, 10));
    applySample(state, settings, sample(90, 10));
    expect(state.state).toBe("cpu_alert");
    const changed = { ...settings, memThreshold: 50, consecutiveBreaches: 1 };
    expect(brief(applySample(state, changed, sample(90, 60)))).toEqual([
      "memory fired 60 / 50: cpu_alert -> both_alert",
    ]);
    // A higher CPU threshold resolves with the new threshold as its own.
    expect(brief(applySample(state, { ...changed, cpuThreshold: 95 }, sample(90, 60)))).toEqual([
      "cpu resolved 90 / 95: both_alert -> mem_alert",
    ]);
  });

  it("compares with the CPU limit on the 'limit' basis, or all online CPUs without a limit", () => {
    const limit = { ...settings, cpuBasis: "limit" as const, consecutiveBreaches: 1 };
    const limited = initialAlertState();
    // 45 % of a core on a 0.5-core limit is 90 % of the limit.
    expect(brief(applySample(limited, limit, sample(45, 10, { cpu_limit_cores: 0.5 })))).toEqual([
      "cpu fired 90 / 80: normal -> cpu_alert",
    ]);
    const unlimited = initialAlertState();
    // 300 % of a core on 4 CPUs is 75 % of what it may use.
    expect(applySample(unlimited, limit, sample(300, 10))).toEqual([]);
  });

  it("has no memory alert without a memory limit, and resolves one that fired before the limit went", () => {
    const state = initialAlertState();
    const once = { ...settings, consecutiveBreaches: 1 };
    expect(applySample(state, once, sample(10, null, { mem_used: 10 * GiB, mem_limit: null }))).toEqual([]);
    expect(brief(applySample(state, once, sample(10, 95)))).toEqual([
      "memory fired 95 / 90: normal -> mem_alert",
    ]);
    expect(brief(applySample(state, once, sample(10, null, { mem_used: GiB, mem_limit: null })))).toEqual([
      "memory resolved null / 90: mem_alert -> normal",
    ]);
  });

  it("resolves what fired when alerting is disabled, with no threshold", () => {
    const state = initialAlertState();
    applySample(state, settings, sample(90, 95));
    applySample(state, settings, sample(90, 95));
    expect(state.state).toBe("both_alert");
    expect(brief(applySample(state, { ...settings, enabled: false }, sample(90, 95)))).toEqual([
      "cpu resolved 90 / null: both_alert -> mem_alert",
      "memory resolved 95 / null: mem_alert -> normal",
    ]);
    expect(applySample(state, undefined, sample(90, 95))).toEqual([]);
  });
});

describe("event-driven alerts", () => {
  it("fires once per OOM kill, though Docker reports it twice", () => {
    const state = initialAlertState();
    expect(applyOom(state, settings, "2026-11-21T10:00:00.000Z")).toMatchObject({
      metric: "oom",
      change: "fired",
      previousState: "normal",
      newState: "normal",
    });
    expect(applyOom(state, settings, "2026-11-21T10:00:00.200Z")).toBeUndefined();
    expect(applyOom(state, settings, "2026-11-21T10:05:00.000Z")).toBeDefined();
    expect(
      applyOom(initialAlertState(), { ...settings, oomAlert: false }, "2026-11-21T10:00:00.000Z"),
    ).toBeUndefined();
  });

  it("fires a restart loop at the configured count and resolves it below", () => {
    const state = initialAlertState();
    expect(applyRestartCount(state, settings, 2, "2026-11-21T10:00:00.000Z")).toBeUndefined();
    expect(applyRestartCount(state, settings, 3, "2026-11-21T10:01:00.000Z")).toMatchObject({
      metric: "restart_loop",
      change: "fired",
      value: 3,
      threshold: 3,
    });
    expect(applyRestartCount(state, settings, 4, "2026-11-21T10:02:00.000Z")).toBeUndefined();
    expect(applyRestartCount(state, settings, 1, "2026-11-21T10:20:00.000Z")).toMatchObject({
      change: "resolved",
      value: 1,
      threshold: 3,
    });
  });
});
