// Inspect requests over the bus against real containers: a container named by name, by id
// prefix or by full id comes back normalized, with its limits and health; an unknown or
// malformed request gets the error a requester can act on.
import { codecs, createLogger, createSubjects, type InspectReply } from "@crowsnest/shared";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startWorkload,
  TEST_LABEL,
  testDocker,
  type Workload,
} from "../../../../../test/support/docker-workloads.ts";
import {
  connectTestNats,
  eventually,
  testSubjectPrefix,
  uniqueSuffix,
  workloadImage,
} from "../../../../../test/support/test-env.ts";
import { createInspectResponder } from "../../rpc/inspect-responder.ts";
import { createRpcServer, type RpcServer } from "../../rpc/rpc-server.ts";
import { createDockerInspector } from "./docker-inspector.ts";
import { createDockerodeApi } from "./dockerode-adapter.ts";
import { createLogsResponder } from "./logs-responder.ts";

const MiB = 1024 * 1024;

describe("inspect requests over the bus", () => {
  const docker = testDocker();
  const dockerApi = createDockerodeApi({ socketPath: "/var/run/docker.sock" });
  const subjects = createSubjects(testSubjectPrefix());
  const host = `itest-inspect-${uniqueSuffix()}`;
  const logger = createLogger({ service: "watcher", level: "silent" });
  let serverNc: NatsConnection;
  let clientNc: NatsConnection;
  let server: RpcServer;
  let workload: Workload;

  async function inspect(payload: string | object): Promise<InspectReply> {
    const data = typeof payload === "string" ? payload : JSON.stringify(payload);
    const message = await clientNc.request(subjects.rpc(host, "inspect"), data, { timeout: 10_000 });
    const decoded = codecs.inspectReply.decode(message.data);
    if (!decoded.ok) throw new Error(`undecodable reply: ${decoded.detail}`);
    return decoded.value;
  }

  beforeAll(async () => {
    serverNc = await connectTestNats();
    clientNc = await connectTestNats();
    server = createRpcServer({
      nc: serverNc,
      subjects,
      host,
      logger,
      logs: createLogsResponder({
        docker: dockerApi,
        nc: serverNc,
        logger,
        dockerTimeoutMs: 5000,
        maxConcurrent: 4,
        maxDurationMs: 10_000,
        probeIntervalMs: 1000,
        maxPayloadBytes: () => MiB,
      }),
      inspect: createInspectResponder({
        inspect: createDockerInspector({ docker: dockerApi, timeoutMs: 5000 }),
        nc: serverNc,
        logger,
      }),
    });
    server.start();
    await serverNc.flush();
    workload = await startWorkload(docker, {
      script: "sleep 120",
      namePrefix: "crowsnest-inspect",
      labels: {
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "com.docker.compose.container-number": "2",
      },
      hostConfig: { Memory: 64 * MiB, NanoCpus: 500_000_000, PidsLimit: 50 },
      healthcheck: { Test: ["CMD-SHELL", "echo fine"], Interval: 1_000_000_000, Retries: 3 },
    });
  });

  afterAll(async () => {
    await server?.stop();
    await workload?.remove();
    await clientNc?.close();
    await serverNc?.close();
  });

  it("answers by name with the container's metadata, limits and health", async () => {
    const reply = await eventually(
      async () => {
        const answer = await inspect({ v: 1, container: workload.name });
        return answer.ok && answer.container.health?.status === "healthy" ? answer : undefined;
      },
      { timeoutMs: 10_000, what: "a healthy container" },
    );
    const state = (await workload.container.inspect()).State;
    expect(reply).toEqual({
      v: 1,
      ok: true,
      container: {
        external_id: workload.id,
        name: workload.name,
        image: workloadImage(),
        image_id: expect.stringMatching(/^sha256:/),
        state: "running",
        labels: expect.objectContaining({ [TEST_LABEL]: "1", "com.docker.compose.project": "shop" }),
        created_at: expect.stringMatching(/Z$/),
        started_at: new Date(Date.parse(state.StartedAt)).toISOString(),
        finished_at: null,
        restart_count: 0,
        exit_code: null,
        pid: state.Pid,
        health: { status: "healthy", failing_streak: 0, last_output: "fine\n" },
        limits: { mem_limit: 64 * MiB, cpu_limit_cores: 0.5, pids_limit: 50 },
        compose: { project: "shop", service: "web", number: 2 },
        kubernetes: null,
      },
    });
  });

  it("finds the same container by id prefix and by full id", async () => {
    for (const container of [workload.id.slice(0, 12), workload.id, `/${workload.name}`]) {
      const reply = await inspect({ v: 1, container });
      expect(reply).toMatchObject({ ok: true, container: { external_id: workload.id } });
    }
  });

  it("answers not_found for an unknown container and bad_request for a malformed request", async () => {
    expect(await inspect({ v: 1, container: `crowsnest-no-such-${uniqueSuffix()}` })).toMatchObject({
      ok: false,
      error: { code: "not_found" },
    });
    for (const payload of ["]", { v: 2, container: "web" }, { v: 1 }, { v: 1, container: "a b" }]) {
      expect(await inspect(payload)).toMatchObject({ ok: false, error: { code: "bad_request" } });
    }
  });

  it("answers bad_request for an id prefix that several containers share", async () => {
    // 17 ids over 16 hex digits: two of them begin alike.
    const created = await Promise.all(
      Array.from({ length: 17 }, (_, i) =>
        docker.createContainer({
          name: `crowsnest-inspect-ambiguous-${uniqueSuffix()}-${i}`,
          Image: workloadImage(),
          Cmd: ["true"],
          Labels: { [TEST_LABEL]: "1" },
          HostConfig: { NetworkMode: "none" },
        }),
      ),
    );
    try {
      const counts = new Map<string, number>();
      for (const container of created)
        counts.set(container.id[0] ?? "", (counts.get(container.id[0] ?? "") ?? 0) + 1);
      const shared = [...counts].find(([, count]) => count > 1)?.[0] ?? "";
      expect(await inspect({ v: 1, container: shared })).toMatchObject({
        ok: false,
        error: { code: "bad_request", message: expect.stringContaining("Multiple IDs") },
      });
    } finally {
      await Promise.all(created.map((container) => container.remove({ force: true }).catch(() => undefined)));
    }
  });
});
