// End to end, as a user meets Crowsnest: the four services as real processes against real
// Postgres, NATS and dockerd; a container that burns one core; everything checked through
// the HTTP API only.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams } from "../support/bus-fixtures.ts";
import { startWorkload, testDocker, type Workload } from "../support/docker-workloads.ts";
import { type ServiceProcess, startService } from "../support/service-process.ts";
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
  let services: ServiceProcess[] = [];
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
    };
    const store = startService("store", { ...common, CROWSNEST_INGEST_BATCH_WAIT_MS: "100" });
    const api = startService("api", {
      ...common,
      CROWSNEST_API_PORT: "0",
      CROWSNEST_API_LISTEN_HOST: "127.0.0.1",
      CROWSNEST_API_READ_TOKENS: token,
    });
    const collector = startService("collector", { ...common, CROWSNEST_COLLECT_INTERVAL_MS: "2000" });
    const watcher = startService("watcher", common);
    services = [store, api, collector, watcher];
    await store.waitForLog((record) => record.msg === "store started");
    const listening = await api.waitForLog((record) => record.msg === "api listening");
    apiBase = `http://127.0.0.1:${listening.port as number}`;
    // It listens before NATS answers; what these tests ask needs the bus.
    await api.waitForLog((record) => record.msg === "api connected to the bus");
  });

  afterAll(async () => {
    await workload?.remove();
    const exitCodes = await Promise.all(
      services.map(async (service) => [service.name, await service.stop()]),
    );
    const nc = await connectTestNats();
    await deleteTestStreams(nc, prefix);
    await nc.close();
    await database?.drop();
    // Every service shuts down cleanly on SIGTERM.
    expect(Object.fromEntries(exitCodes)).toEqual({ store: 0, api: 0, collector: 0, watcher: 0 });
  });

  it("shows a busy container running at about one core with a start event, then its death", async () => {
    workload = await startWorkload(docker, {
      namePrefix: "e2e-busy",
      // Exits 7 on docker stop's SIGTERM, so the die event's exit code is the container's own.
      script: "trap 'exit 7' TERM; while :; do :; done",
    });
    const startedAt = Date.now();
    const query = `/api/v1/containers?host=${host}&name=${workload.name}`;

    const container = await eventually(
      async () => {
        const { body } = await getJson<{ data: ContainerJson[] }>(query);
        const found = body.data.find((c) => c.name === workload.name);
        return found?.state === "running" ? found : undefined;
      },
      { timeoutMs: 30_000, what: "the container listed as running" },
    );

    const cpuPercent = await eventually(
      async () => {
        const { status, body } = await getJson<{ cpu_percent: number | null }>(
          `/api/v1/containers/${container.id}/stats/current`,
        );
        return status === 200 && body.cpu_percent !== null ? body.cpu_percent : undefined;
      },
      { timeoutMs: Math.max(1000, 30_000 - (Date.now() - startedAt)), what: "a sample with cpu_percent" },
    );
    expect(cpuPercent).toBeGreaterThanOrEqual(60);
    expect(cpuPercent).toBeLessThanOrEqual(130);

    const { body: events } = await getJson<{ data: { action: string }[] }>(
      `/api/v1/containers/${container.id}/events?action=start`,
    );
    expect(events.data.map((e) => e.action)).toEqual(["start"]);
    expect(Date.now() - startedAt).toBeLessThan(30_000);

    await workload.container.stop({ t: 10 });
    const die = await eventually(
      async () => {
        const { body } = await getJson<{ data: { action: string; exit_code: number | null }[] }>(
          `/api/v1/containers/${container.id}/events?action=die`,
        );
        return body.data[0];
      },
      { timeoutMs: 20_000, what: "a die event" },
    );
    expect(die.exit_code).toBe(7);
    const { body: after } = await getJson<ContainerJson>(`/api/v1/containers/${container.id}`);
    expect(after).toMatchObject({ state: "exited", exit_code: 7 });
  });
});
