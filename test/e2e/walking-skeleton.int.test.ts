// End to end, as a user meets Crowsnest: the four services as real processes against real
// Postgres, NATS and dockerd; a container that burns one core; everything checked through
// the HTTP API only (and the kernel's own account of the container's CPU, to compare with).
import { availableParallelism } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SchedPoint, schedPoint, truePercent } from "../../services/collector/src/fixtures/cpu-truth.ts";
import { deleteTestStreams } from "../support/bus-fixtures.ts";
import { startWorkload, testDocker, type Workload } from "../support/docker-workloads.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";
import {
  connectTestNats,
  createTestDatabase,
  eventually,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
  uniqueSuffix,
} from "../support/test-env.ts";

interface ContainerJson {
  id: number;
  name: string;
  state: string;
  exit_code: number | null;
}

describe("walking skeleton: collector, watcher, store and api together", () => {
  const prefix = testSubjectPrefix();
  const host = `e2e-${uniqueSuffix()}`;
  const docker = testDocker();
  let database: TestDatabase;
  let stack: ServiceStack | undefined;
  let apiBase: string;
  let workload: Workload;

  const token = `e2e-read-${uniqueSuffix()}`;
  const getJson = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${apiBase}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    return { status: response.status, body: (await response.json()) as T };
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    const common = {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HOST_NAME: host,
      CROWSNEST_DATABASE_URL: database.url,
      // Heartbeats say when the agents reach dockerd (see below); the default 15 s would add up to that.
      CROWSNEST_HEARTBEAT_INTERVAL_MS: "2000",
    };
    stack = await startServiceStack({
      services: ["store", "api", "collector", "watcher"],
      common,
      env: {
        store: { CROWSNEST_INGEST_BATCH_WAIT_MS: "100" },
        api: { CROWSNEST_API_READ_TOKENS: token },
        collector: { CROWSNEST_COLLECT_INTERVAL_MS: "2000" },
      },
    });
    apiBase = stack.apiBase;
    // The stack is ready when the store consumes and the api reaches the bus; the collector and
    // watcher are still starting then. On a loaded 2-core machine loading a service's modules
    // from source alone takes 8-12 s (about 1 s of CPU; measured at load 30-45), so the waits
    // below would measure the agents' start-up. They start once both agents say, in their
    // heartbeats, that they reach dockerd: the collector after its first tick, the watcher
    // once it follows Docker's events.
    await eventually(
      async () => {
        const { body } = await getJson<{ data: { host: string; service: string; connected: boolean }[] }>(
          "/api/v1/agents",
        );
        const connected = (service: string) =>
          body.data.some((agent) => agent.host === host && agent.service === service && agent.connected);
        return connected("collector") && connected("watcher") ? true : undefined;
      },
      { timeoutMs: 120_000, what: "the collector and the watcher to reach dockerd" },
    );
  });

  afterAll(async () => {
    await workload?.remove();
    const exitCodes = await stack?.stop();
    const nc = await connectTestNats();
    await deleteTestStreams(nc, prefix);
    await nc.close();
    await database?.drop();
    // Every service shuts down cleanly on SIGTERM.
    expect(exitCodes).toEqual({ store: 0, api: 0, collector: 0, watcher: 0 });
  });

  it("shows a busy container's CPU as the kernel counted it, with a start event, then its death", async () => {
    workload = await startWorkload(docker, {
      namePrefix: "e2e-busy",
      // Exits 7 on docker stop's SIGTERM, so the die event's exit code is the container's own.
      script: "trap 'exit 7' TERM; while :; do :; done",
    });
    const pid = ((await workload.container.inspect()) as { State: { Pid: number } }).State.Pid;
    // What the busy loop really ran, every 100 ms: on a busy 2-core machine it gets anything
    // from a few percent to a full core, so the reported figure is checked against this.
    const truth: { atMs: number; point: SchedPoint }[] = [];
    const recordTruth = setInterval(() => {
      const point = schedPoint(pid);
      if (point) truth.push({ atMs: Date.now(), point });
    }, 100);
    const query = `/api/v1/containers?host=${host}&name=${workload.name}`;

    try {
      // With every service up, a new container is listed and sampled within two intervals (2 s):
      // the margins are for a loaded machine, how fast it goes is the benchmarks' and the
      // collector tests' business.
      const container = await eventually(
        async () => {
          const { body } = await getJson<{ data: ContainerJson[] }>(query);
          const found = body.data.find((c) => c.name === workload.name);
          return found?.state === "running" ? found : undefined;
        },
        { timeoutMs: 90_000, what: "the container listed as running" },
      );

      // A sample whose whole interval the recorded truth covers.
      const sample = await eventually(
        async () => {
          const { status, body } = await getJson<CurrentStats>(
            `/api/v1/containers/${container.id}/stats/current`,
          );
          if (status !== 200 || body.cpu_percent === null || body.interval_ms === null) return undefined;
          const startMs = Date.parse(body.ts) - body.interval_ms;
          return truth[0] && truth[0].atMs <= startMs ? body : undefined;
        },
        { timeoutMs: 90_000, what: "a sample with cpu_percent" },
      );
      const endMs = Date.parse(sample.ts);
      const from = latestAtOrBefore(truth, endMs - (sample.interval_ms ?? 0));
      const to = earliestAtOrAfter(truth, endMs) ?? truth[truth.length - 1];
      if (!from || !to) throw new Error("no kernel readings around the sample");
      const kernelPercent = truePercent(from.point, to.point);
      // The readings bracket the interval within 100 ms on each side.
      expect(Math.abs((sample.cpu_percent ?? 0) - kernelPercent)).toBeLessThanOrEqual(
        Math.max(10, kernelPercent * 0.3),
      );
      expect(sample.cpu_percent).toBeLessThanOrEqual(
        100 * (sample.online_cpus ?? availableParallelism()) + 5,
      );

      const { body: events } = await getJson<{ data: { action: string }[] }>(
        `/api/v1/containers/${container.id}/events?action=start`,
      );
      expect(events.data.map((e) => e.action)).toEqual(["start"]);

      await workload.container.stop({ t: 10 });
      const die = await eventually(
        async () => {
          const { body } = await getJson<{ data: { action: string; exit_code: number | null }[] }>(
            `/api/v1/containers/${container.id}/events?action=die`,
          );
          return body.data[0];
        },
        { timeoutMs: 60_000, what: "a die event" },
      );
      expect(die.exit_code).toBe(7);
      const { body: after } = await getJson<ContainerJson>(`/api/v1/containers/${container.id}`);
      expect(after).toMatchObject({ state: "exited", exit_code: 7 });
    } finally {
      clearInterval(recordTruth);
    }
  }, 240_000); // The waits inside, added up, with their margins for a loaded machine.
});

interface CurrentStats {
  ts: string;
  interval_ms: number | null;
  cpu_percent: number | null;
  online_cpus: number | null;
}

type TruthReading = { atMs: number; point: SchedPoint };

function latestAtOrBefore(readings: readonly TruthReading[], atMs: number): TruthReading | undefined {
  return readings.findLast((reading) => reading.atMs <= atMs);
}

function earliestAtOrAfter(readings: readonly TruthReading[], atMs: number): TruthReading | undefined {
  return readings.find((reading) => reading.atMs >= atMs);
}
