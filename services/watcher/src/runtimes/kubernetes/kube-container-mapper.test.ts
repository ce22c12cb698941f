import { containerInfo } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { podToContainerInfos } from "./kube-container-mapper.ts";
import { prunePod } from "./kube-objects.ts";

const base = {
  metadata: {
    uid: "uid-9",
    name: "api-0",
    namespace: "prod",
    resourceVersion: "42",
    labels: { app: "api" },
    ownerReferences: [{ kind: "StatefulSet", name: "api", controller: true }],
    creationTimestamp: "2026-11-21T09:00:00Z",
  },
  spec: {
    nodeName: "node-2",
    containers: [
      {
        name: "server",
        image: "api:2",
        readinessProbe: { httpGet: { path: "/" } },
        resources: { limits: { memory: "1.5Gi", cpu: "1500m" } },
      },
      { name: "sidecar", image: "proxy:1" },
      { name: "init-like", image: "tool:1", livenessProbe: { exec: {} } },
    ],
  },
  status: {
    containerStatuses: [
      {
        name: "server",
        image: "api:2",
        imageID: "docker-pullable://api@sha256:1",
        ready: false,
        restartCount: 3,
        state: { running: { startedAt: "2026-11-21T09:05:00Z" } },
        lastState: { terminated: { exitCode: 137, reason: "OOMKilled", finishedAt: "2026-11-21T09:04:59Z" } },
      },
      {
        name: "sidecar",
        image: "proxy:1",
        ready: true,
        restartCount: 0,
        state: {
          terminated: { exitCode: 0, startedAt: "2026-11-21T09:01:00Z", finishedAt: "2026-11-21T09:02:00Z" },
        },
      },
      {
        name: "init-like",
        image: "tool:1",
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: "ContainerCreating" } },
      },
    ],
  },
};

describe("podToContainerInfos", () => {
  const pod = prunePod(base);
  if (pod === undefined) throw new Error("fixture does not prune");
  const infos = podToContainerInfos(pod);

  it("describes every container of the pod in the contract's shape", () => {
    for (const info of infos) expect(containerInfo.safeParse(info).success).toBe(true);
    expect(infos[0]).toEqual({
      external_id: "prod/api-0/server",
      name: "prod/api-0/server",
      image: "api:2",
      image_id: "docker-pullable://api@sha256:1",
      state: "running",
      labels: {
        app: "api",
        "io.kubernetes.pod.namespace": "prod",
        "io.kubernetes.pod.name": "api-0",
        "io.kubernetes.pod.uid": "uid-9",
        "io.kubernetes.container.name": "server",
      },
      created_at: "2026-11-21T09:00:00.000Z",
      started_at: "2026-11-21T09:05:00.000Z",
      finished_at: "2026-11-21T09:04:59.000Z",
      restart_count: 3,
      exit_code: 137,
      pid: null,
      health: { status: "unhealthy", failing_streak: null, last_output: null },
      limits: { mem_limit: 1.5 * 1024 ** 3, cpu_limit_cores: 1.5, pids_limit: null },
      compose: null,
      kubernetes: {
        namespace: "prod",
        pod: "api-0",
        pod_uid: "uid-9",
        container: "server",
        node: "node-2",
        owner_kind: "StatefulSet",
        owner_name: "api",
        ready: false,
      },
    });
  });

  it("maps states and health: terminated → exited, waiting → created; no probes → none, not started → starting", () => {
    expect(infos.map((info) => [info.state, info.health?.status, info.limits.mem_limit])).toEqual([
      ["running", "unhealthy", 1.5 * 1024 ** 3],
      ["exited", "none", null],
      ["created", "starting", null],
    ]);
    expect(infos[1]).toMatchObject({ exit_code: 0, finished_at: "2026-11-21T09:02:00.000Z" });
  });
});
