// `pnpm bench soak`: the fault run (test/support/fault-run.ts) at a scale of your choosing,
// printing its figures. Simulated hosts publish into a 3-node NATS cluster with R3 streams,
// drained by two stores into a private Postgres, beside one real watcher on a private dockerd;
// meanwhile the telemetry stream's leader node is killed with kill -9 (and restarted a minute
// later), one store is killed, Postgres and the watcher's dockerd are restarted. Its short form
// in CI, which asserts the figures, is test/fault-run.int.test.ts.
//
// Knobs (environment): SOAK_PRESET=full is the scale (1000 hosts × 50 containers every
// 10 s, 5 000 samples/s, for 330 s); without it a short form (100 × 50 for 150 s). Each of these
// overrides the preset: SOAK_HOSTS, SOAK_CONTAINERS, SOAK_INTERVAL_MS, SOAK_DURATION_MS,
// SOAK_EVENTS_PER_HOST_PER_MIN (1), SOAK_REPLICAS (3; 1 runs one node, for comparison, and kills
// no node), SOAK_WATCHER (1; 0 leaves out the real host and its dockerd restart).
//   SOAK_PRESET=full pnpm bench soak                      the full run
//   SOAK_PRESET=full SOAK_REPLICAS=1 pnpm bench soak      the same at R1 on one node
import { describeFaultRun, runFaultRun } from "../support/fault-run.ts";

const FULL = process.env.SOAK_PRESET === "full";
const numberFrom = (name: string, short: number, full = short) =>
  Number(process.env[name] ?? (FULL ? full : short));

export async function run(): Promise<void> {
  const durationMs = numberFrom("SOAK_DURATION_MS", 150_000, 330_000);
  const figures = await runFaultRun({
    hosts: numberFrom("SOAK_HOSTS", 100, 1000),
    containers: numberFrom("SOAK_CONTAINERS", 50),
    intervalMs: numberFrom("SOAK_INTERVAL_MS", 10_000),
    durationMs,
    replicas: numberFrom("SOAK_REPLICAS", 3),
    eventsPerHostPerMin: numberFrom("SOAK_EVENTS_PER_HOST_PER_MIN", 1),
    // A minute, as the issue asks; sooner in a run too short for that (before the next fault).
    natsRestartAfterMs: Math.min(60_000, durationMs * 0.3),
    postgresDownMs: 5000,
    watcher:
      numberFrom("SOAK_WATCHER", 1) === 1
        ? {
            // The tests' workload image (test/infra builds it), found as the other benchmarks find it.
            image: process.env.CROWSNEST_TEST_WORKLOAD_IMAGE || "crowsnest-test/busybox:1",
            containers: 3,
            churnEveryMs: 15_000,
          }
        : undefined,
    finalWaitMs: 120_000,
    log: (line) => console.log(line),
  });
  for (const line of describeFaultRun(figures)) console.log(line);
}
