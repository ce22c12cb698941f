import { describe, expect, it } from "vitest";
import { parseContainerInspect } from "./container-inspect-parser.ts";

/** The parts of a Docker 20.10 inspect answer the watcher reads. */
function inspectJson(overrides: { State?: object; HostConfig?: object; Config?: object } = {}) {
  return {
    Id: "4f1c9b0e2a7d",
    Created: "2026-11-21T19:00:00.123456789Z",
    Name: "/web",
    Image: "sha256:9a3b",
    RestartCount: 2,
    State: {
      Status: "running",
      Running: true,
      OOMKilled: false,
      Pid: 4242,
      ExitCode: 0,
      StartedAt: "2026-11-21T19:00:01.5Z",
      FinishedAt: "0001-01-01T00:00:00Z",
      ...overrides.State,
    },
    Config: {
      Image: "nginx:1.27",
      Tty: false,
      Labels: { "com.docker.compose.project": "shop" },
      ...overrides.Config,
    },
    HostConfig: {
      Memory: 67108864,
      NanoCpus: 500000000,
      CpuQuota: 0,
      CpuPeriod: 0,
      PidsLimit: 100,
      ...overrides.HostConfig,
    },
  };
}

describe("parseContainerInspect", () => {
  it("reads the metadata, times and limits", () => {
    expect(parseContainerInspect(inspectJson())).toEqual({
      id: "4f1c9b0e2a7d",
      name: "web",
      image: "nginx:1.27",
      imageId: "sha256:9a3b",
      labels: { "com.docker.compose.project": "shop" },
      state: "running",
      createdNano: 1_795_287_600_123_456_789n,
      startedNano: 1_795_287_601_500_000_000n,
      finishedNano: undefined,
      exitCode: 0,
      oomKilled: false,
      pid: 4242,
      restartCount: 2,
      health: null,
      tty: false,
      limits: { memLimitBytes: 67108864, cpuLimitCores: 0.5, pidsLimit: 100 },
    });
  });

  it("takes the CPU limit from the CFS quota when NanoCpus is unset, and treats 0 and -1 as no limit", () => {
    const quota = parseContainerInspect(
      inspectJson({ HostConfig: { NanoCpus: 0, CpuQuota: 150000, CpuPeriod: 100000, PidsLimit: -1 } }),
    );
    expect(quota?.limits).toEqual({ memLimitBytes: 67108864, cpuLimitCores: 1.5, pidsLimit: null });
    const none = parseContainerInspect(
      inspectJson({ HostConfig: { Memory: 0, NanoCpus: 0, CpuQuota: -1, PidsLimit: 0 } }),
    );
    expect(none?.limits).toEqual({ memLimitBytes: null, cpuLimitCores: null, pidsLimit: null });
  });

  it("reads health with its failing streak and the newest probe's output", () => {
    const parsed = parseContainerInspect(
      inspectJson({
        State: {
          Health: {
            Status: "unhealthy",
            FailingStreak: 3,
            Log: [
              { ExitCode: 1, Output: "old" },
              { ExitCode: 1, Output: "connection refused\n" },
            ],
          },
        },
      }),
    );
    expect(parsed?.health).toEqual({
      status: "unhealthy",
      failingStreak: 3,
      lastOutput: "connection refused\n",
    });
  });

  it("reads an OOM-killed exit and a TTY", () => {
    const parsed = parseContainerInspect(
      inspectJson({
        State: {
          Status: "exited",
          Running: false,
          OOMKilled: true,
          Pid: 0,
          ExitCode: 137,
          FinishedAt: "2026-11-21T19:05:00Z",
        },
        Config: { Tty: true },
      }),
    );
    expect(parsed).toMatchObject({ state: "exited", oomKilled: true, exitCode: 137, pid: null, tty: true });
    expect(parsed?.finishedNano).toBe(1_795_287_900_000_000_000n);
  });

  it("survives odd answers: only an Id is required", () => {
    expect(parseContainerInspect(null)).toBeUndefined();
    expect(parseContainerInspect({ Id: "" })).toBeUndefined();
    expect(
      parseContainerInspect({ Id: "abc", State: "running", Config: [], HostConfig: { Memory: "1g" } }),
    ).toMatchObject({
      id: "abc",
      name: "",
      image: "",
      imageId: null,
      state: "unknown",
      health: null,
      limits: { memLimitBytes: null, cpuLimitCores: null, pidsLimit: null },
    });
  });
});
