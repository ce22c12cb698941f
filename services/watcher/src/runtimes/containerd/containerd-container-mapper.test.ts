import type { ContainerdContainer, ContainerdTask } from "@crowsnest/shared/containerd";
import { describe, expect, it } from "vitest";
import { specLimits, toObservedContainer } from "./containerd-container-mapper.ts";

const container: ContainerdContainer = {
  id: "3f2a9c",
  labels: {
    "nerdctl/name": "shop-web-1",
    "com.docker.compose.project": "shop",
    "com.docker.compose.service": "web",
    "com.docker.compose.container-number": "1",
  },
  image: "docker.io/library/nginx:1.27",
  runtimeName: "io.containerd.runc.v2",
  spec: {
    linux: {
      resources: { memory: { limit: 33554432 }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 64 } },
    },
  },
  createdAt: { seconds: 1796491800, nanos: 0 },
  updatedAt: undefined,
};

const running: ContainerdTask = {
  containerId: "3f2a9c",
  pid: 4242,
  status: "RUNNING",
  exitStatus: 0,
  exitedAt: undefined,
};

describe("toObservedContainer", () => {
  it("describes a running container as a Docker host would: nerdctl's name, compose project, spec limits", () => {
    const { info, snapshot } = toObservedContainer({
      namespace: "default",
      container,
      task: running,
      startedNano: 1796491801000000000n,
    });
    expect(info).toMatchObject({
      external_id: "3f2a9c",
      name: "shop-web-1",
      state: "running",
      pid: 4242,
      created_at: "2026-12-05T17:30:00.000Z",
      started_at: "2026-12-05T17:30:01.000Z",
      exit_code: null,
      limits: { mem_limit: 33554432, cpu_limit_cores: 0.5, pids_limit: 64 },
      compose: { project: "shop", service: "web", number: 1 },
      kubernetes: null,
    });
    expect(snapshot).toMatchObject({ id: "3f2a9c", state: "running", detailed: true });
  });

  it("gives a stopped task's exit code and time, and ids namespace/id outside the default namespace", () => {
    const { info, snapshot } = toObservedContainer({
      namespace: "builds",
      container,
      task: { ...running, status: "STOPPED", exitStatus: 3, exitedAt: { seconds: 1796491900, nanos: 0 } },
      startedNano: undefined,
    });
    expect(info).toMatchObject({ external_id: "builds/3f2a9c", state: "exited", exit_code: 3, pid: null });
    expect(snapshot).toMatchObject({ state: "exited", exitCode: 3, finishedNano: 1796491900000000000n });
  });

  it("lists a container without a task as created, but compares it as down, so a run that was known ends", () => {
    const { info, snapshot } = toObservedContainer({
      namespace: "default",
      container,
      task: undefined,
      startedNano: undefined,
    });
    expect(info.state).toBe("created");
    expect(snapshot.state).toBe("exited");
  });

  it("names a container without nerdctl's label by its id", () => {
    const { info } = toObservedContainer({
      namespace: "default",
      container: { ...container, labels: {} },
      task: undefined,
      startedNano: undefined,
    });
    expect(info.name).toBe("3f2a9c");
    expect(info.compose).toBeNull();
  });
});

describe("specLimits", () => {
  it("reads no limit where the spec sets none, or sets unlimited as a number", () => {
    expect(specLimits(undefined)).toEqual({ mem_limit: null, cpu_limit_cores: null, pids_limit: null });
    expect(
      specLimits({
        linux: {
          resources: { memory: { limit: 2 ** 63 - 4096 }, cpu: { quota: -1 }, pids: { limit: 0 } },
        },
      }),
    ).toEqual({ mem_limit: null, cpu_limit_cores: null, pids_limit: null });
  });

  it("takes the kernel's 100 ms period when the spec sets a quota without one", () => {
    expect(specLimits({ linux: { resources: { cpu: { quota: 150000 } } } }).cpu_limit_cores).toBe(1.5);
  });
});
