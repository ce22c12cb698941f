// Container logs and inspect through the api, end to end: the real api asks the real watcher
// of the container's host over NATS; the store has put the container in Postgres from the
// watcher's inventory. Plain and follow mode, and a live inspection, as a user would call them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams } from "../support/bus-fixtures.ts";
import { startWorkload, testDocker, type Workload } from "../support/docker-workloads.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";
import { sseReader } from "../support/sse-reader.ts";
import {
  connectTestNats,
  createTestDatabase,
  eventually,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
  uniqueSuffix,
} from "../support/test-env.ts";

describe("logs through the api and the host's watcher", () => {
  const prefix = testSubjectPrefix();
  const host = `logs-${uniqueSuffix()}`;
  const token = `logs-read-${uniqueSuffix()}`;
  const docker = testDocker();
  let database: TestDatabase;
  let stack: ServiceStack | undefined;
  let apiBase: string;
  const workloads: Workload[] = [];

  const get = (path: string) => fetch(`${apiBase}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  const containerId = (name: string) =>
    eventually(
      async () => {
        const response = await get(`/api/v1/containers?host=${host}&name=${name}`);
        const body = (await response.json()) as { data: { id: number; name: string }[] };
        return body.data.find((c) => c.name === name)?.id;
      },
      { timeoutMs: 20_000, what: `container ${name} in the api` },
    );

  beforeAll(async () => {
    database = await createTestDatabase();
    const common = {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HOST_NAME: host,
      CROWSNEST_DATABASE_URL: database.url,
    };
    stack = await startServiceStack({
      services: ["store", "watcher", "api"],
      common,
      env: {
        store: { CROWSNEST_INGEST_BATCH_WAIT_MS: "50" },
        watcher: { CROWSNEST_LOGS_FOLLOW_PROBE_INTERVAL_MS: "1000" },
        api: { CROWSNEST_API_READ_TOKENS: token, CROWSNEST_API_STREAM_HEARTBEAT_MS: "1000" },
      },
    });
    apiBase = stack.apiBase;
  });

  afterAll(async () => {
    for (const workload of workloads) await workload.remove();
    const exitCodes = await stack?.stop();
    const nc = await connectTestNats();
    await deleteTestStreams(nc, prefix);
    await nc.close();
    await database?.drop();
    expect(exitCodes).toEqual({ store: 0, watcher: 0, api: 0 });
  });

  it("returns stdout and stderr lines tagged by stream, and honours tail", async () => {
    const workload = await startWorkload(docker, {
      namePrefix: "logs-plain",
      // Ends on stdout, so "the last stderr line" needs more than dockerd's own tail (it counts
      // both streams before filtering one).
      script: "for i in 1 2 3; do echo out$i; echo err$i >&2; done; sleep 1; echo out4; sleep 3600",
    });
    workloads.push(workload);
    const id = await containerId(workload.name);
    const all = await eventually(
      async () => {
        const body = (await (await get(`/api/v1/containers/${id}/logs?timestamps=true`)).json()) as {
          lines: { stream: string; text: string; ts: string | null }[];
        };
        return body.lines.length === 7 ? body.lines : undefined;
      },
      { timeoutMs: 10_000, what: "seven log lines" },
    );
    expect(all.filter((l) => l.stream === "stdout").map((l) => l.text)).toEqual([
      "out1",
      "out2",
      "out3",
      "out4",
    ]);
    expect(all.filter((l) => l.stream === "stderr").map((l) => l.text)).toEqual(["err1", "err2", "err3"]);
    expect(all.every((l) => l.ts !== null)).toBe(true);
    const stderrTail = (await (await get(`/api/v1/containers/${id}/logs?tail=1&stream=stderr`)).json()) as {
      lines: { stream: string; text: string }[];
    };
    expect(stderrTail.lines).toEqual([{ stream: "stderr", ts: null, text: "err3" }]);
  });

  it("follows: delivers lines written after the request, and ends when the container stops", async () => {
    const workload = await startWorkload(docker, {
      namePrefix: "logs-follow",
      script: "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo line$i; sleep 0.3; done",
      stopTimeoutSeconds: 2,
    });
    workloads.push(workload);
    const id = await containerId(workload.name);
    const before = (await (await get(`/api/v1/containers/${id}/logs?tail=1`)).json()) as {
      lines: { text: string }[];
    };
    const lastBefore = Number(before.lines[0]?.text.replace("line", "") ?? 0);
    const response = await get(`/api/v1/containers/${id}/logs?follow=true&tail=0`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toContain("text/event-stream");
    const reader = sseReader(response);
    const first = await reader.next(5000);
    expect(first?.event).toBe("line");
    const line = JSON.parse(first?.data ?? "{}") as { stream: string; text: string };
    expect(line.stream).toBe("stdout");
    expect(Number(line.text.replace("line", ""))).toBeGreaterThan(lastBefore);
    await workload.container.stop({ t: 2 });
    let last = first;
    for (let event = await reader.next(8000); event; event = await reader.next(8000)) last = event;
    expect(last?.event).toBe("end");
  });

  it("inspects a container as dockerd describes it now: state, pid, restart count, limits", async () => {
    const workload = await startWorkload(docker, {
      namePrefix: "inspect-live",
      script: "sleep 3600",
      hostConfig: { Memory: 64 * 1024 * 1024, PidsLimit: 50 },
    });
    workloads.push(workload);
    const id = await containerId(workload.name);
    const response = await get(`/api/v1/containers/${id}/inspect`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      container_id: number;
      host: string;
      container: {
        external_id: string;
        state: string;
        pid: number | null;
        restart_count: number | null;
        limits: { mem_limit: number | null; pids_limit: number | null };
      };
    };
    expect(body).toMatchObject({
      container_id: id,
      host,
      container: {
        external_id: workload.id,
        state: "running",
        restart_count: 0,
        limits: { mem_limit: 64 * 1024 * 1024, pids_limit: 50 },
      },
    });
    expect(body.container.pid).toBeGreaterThan(0);
    await workload.remove();
    const gone = await get(`/api/v1/containers/${id}/inspect`);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ error: { code: "not_found" } });
  });

  it("answers 404 for a container its host no longer has, and 400 for a bad parameter", async () => {
    const workload = await startWorkload(docker, { namePrefix: "logs-gone", script: "sleep 3600" });
    const id = await containerId(workload.name);
    await workload.remove();
    const response = await get(`/api/v1/containers/${id}/logs?follow=true`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "not_found" } });
    expect((await get(`/api/v1/containers/${id}/logs?tail=9999`)).status).toBe(400);
  });
});
