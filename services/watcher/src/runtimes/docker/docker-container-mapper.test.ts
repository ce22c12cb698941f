import { codecs } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { parseContainerInspect } from "./container-inspect-parser.ts";
import {
  containerName,
  inspectedToContainerInfo,
  mapDockerState,
  toContainerInfo,
} from "./docker-container-mapper.ts";

describe("mapDockerState", () => {
  it.each([
    ["created", "created"],
    ["running", "running"],
    ["paused", "paused"],
    ["restarting", "restarting"],
    ["removing", "removing"],
    ["exited", "exited"],
    ["dead", "dead"],
    ["Running", "running"],
    ["", "unknown"],
    [undefined, "unknown"],
    ["hibernating", "unknown"],
  ])("maps %s to %s", (docker, expected) => {
    expect(mapDockerState(docker)).toBe(expected);
  });
});

describe("containerName", () => {
  it("strips the leading slash and prefers the own name over link aliases", () => {
    expect(containerName(["/web"])).toBe("web");
    expect(containerName(["/proxy/backend", "/api"])).toBe("api");
    expect(containerName(["/proxy/backend"])).toBe("proxy/backend");
    expect(containerName([])).toBe("");
  });
});

describe("toContainerInfo", () => {
  it("fills what the list call gives and leaves inspect-only fields null", () => {
    const info = toContainerInfo({
      Id: "4f1c0ffee",
      Names: ["/shop-web-1"],
      Image: "nginx:1.27",
      ImageID: "sha256:abc",
      Created: 1795294273,
      State: "running",
      Labels: {
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "com.docker.compose.container-number": "1",
      },
    });
    expect(info).toEqual({
      external_id: "4f1c0ffee",
      name: "shop-web-1",
      image: "nginx:1.27",
      image_id: "sha256:abc",
      state: "running",
      labels: {
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "com.docker.compose.container-number": "1",
      },
      created_at: "2026-11-21T20:51:13.000Z",
      started_at: null,
      finished_at: null,
      restart_count: null,
      exit_code: null,
      pid: null,
      health: null,
      limits: { mem_limit: null, cpu_limit_cores: null, pids_limit: null },
      compose: { project: "shop", service: "web", number: 1 },
      kubernetes: null,
    });
  });

  it("copes with a sparse entry and still satisfies the schema", () => {
    const info = toContainerInfo({ Id: "abc", Labels: null });
    expect(info).toMatchObject({ name: "", image: "", image_id: null, state: "unknown", created_at: null });
    expect(info.compose).toBeNull();
    const encoded = codecs.inventory.encode({
      v: 1,
      host: "h",
      runtime: "docker",
      ts: "2026-11-21T20:51:13.000Z",
      reason: "startup",
      snapshot_id: "s",
      part: 1,
      parts: 1,
      containers: [info],
    });
    expect(encoded.ok).toBe(true);
  });

  it("leaves the compose number null when the label is missing or odd", () => {
    const labels = { "com.docker.compose.project": "p", "com.docker.compose.service": "s" };
    expect(toContainerInfo({ Id: "a", Labels: labels }).compose).toEqual({
      project: "p",
      service: "s",
      number: null,
    });
    expect(
      toContainerInfo({ Id: "a", Labels: { ...labels, "com.docker.compose.container-number": "x" } }).compose
        ?.number,
    ).toBeNull();
  });
});

describe("inspectedToContainerInfo", () => {
  const inspect = (state: object) =>
    parseContainerInspect({
      Id: "4f1c0ffee",
      Name: "/shop-web-1",
      Created: "2026-11-21T20:51:13.123456789Z",
      Image: "sha256:abc",
      RestartCount: 1,
      State: { StartedAt: "2026-11-21T20:52:00Z", FinishedAt: "0001-01-01T00:00:00Z", ...state },
      Config: {
        Image: "nginx:1.27",
        Labels: { "com.docker.compose.project": "shop", "com.docker.compose.service": "web" },
      },
      HostConfig: { Memory: 268435456, CpuQuota: 50000, CpuPeriod: 100000, PidsLimit: 64 },
    });

  it("fills everything inspect knows, and the exit code only once the container exited", () => {
    const running = inspect({ Status: "running", Pid: 42, ExitCode: 0 });
    if (running === undefined) throw new Error("not parsed");
    const info = inspectedToContainerInfo(running);
    expect(info).toEqual({
      external_id: "4f1c0ffee",
      name: "shop-web-1",
      image: "nginx:1.27",
      image_id: "sha256:abc",
      state: "running",
      labels: { "com.docker.compose.project": "shop", "com.docker.compose.service": "web" },
      created_at: "2026-11-21T20:51:13.123Z",
      started_at: "2026-11-21T20:52:00.000Z",
      finished_at: null,
      restart_count: 1,
      exit_code: null,
      pid: 42,
      health: null,
      limits: { mem_limit: 268435456, cpu_limit_cores: 0.5, pids_limit: 64 },
      compose: { project: "shop", service: "web", number: null },
      kubernetes: null,
    });
    const exited = inspect({ Status: "exited", Pid: 0, ExitCode: 3, FinishedAt: "2026-11-21T20:53:00Z" });
    if (exited === undefined) throw new Error("not parsed");
    expect(inspectedToContainerInfo(exited)).toMatchObject({
      exit_code: 3,
      pid: null,
      finished_at: "2026-11-21T20:53:00.000Z",
    });
    const encoded = codecs.inventory.encode({
      v: 1,
      host: "h",
      runtime: "docker",
      ts: "2026-11-21T20:51:13.000Z",
      reason: "resync",
      snapshot_id: "s",
      part: 1,
      parts: 1,
      containers: [info, inspectedToContainerInfo(exited)],
    });
    expect(encoded.ok).toBe(true);
  });
});
