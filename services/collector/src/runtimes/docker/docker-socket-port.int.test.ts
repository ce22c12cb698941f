// The collector's Docker client against the real dockerd: the four endpoints it uses, a removed
// container as ContainerGoneError, and a deadline that aborts a call.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkload, testDocker, type Workload } from "../../../../../test/support/docker-workloads.ts";
import { ContainerGoneError } from "./docker-port.ts";
import { createDockerSocketPort, DockerApiError } from "./docker-socket-port.ts";

describe("DockerSocketPort on the real dockerd", () => {
  const docker = testDocker();
  const port = createDockerSocketPort({ socketPath: "/var/run/docker.sock", maxSockets: 4 });
  const signal = () => AbortSignal.timeout(10_000);
  let workload: Workload;

  beforeAll(async () => {
    workload = await startWorkload(docker, { script: "sleep 3600", namePrefix: "crowsnest-socket-port" });
  });

  afterAll(async () => {
    port.close();
    await workload?.remove();
  });

  it("lists running containers, inspects one and reads its one-shot stats", async () => {
    const listed = (await port.listContainers(signal())) as { Id: string; Names: string[] }[];
    expect(listed.find((entry) => entry.Id === workload.id)?.Names).toEqual([`/${workload.name}`]);
    const inspect = (await port.inspectContainer(workload.id, signal())) as { State: { Pid: number } };
    expect(inspect.State.Pid).toBeGreaterThan(0);
    const stats = (await port.oneShotStats(workload.id, signal())) as {
      read: string;
      pids_stats: { current: number };
    };
    expect(Date.parse(stats.read)).toBeGreaterThan(Date.now() - 60_000);
    expect(stats.pids_stats.current).toBe(1);
    const info = (await port.info(signal())) as { Name: string };
    expect(info.Name.length).toBeGreaterThan(0);
  });

  it("keeps working over many calls on a few kept-alive connections", async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, () => port.listContainers(signal())));
    expect(answers.every(Array.isArray)).toBe(true);
  });

  it("says a container is gone on 404, and carries other errors with their status", async () => {
    await expect(port.inspectContainer("0".repeat(64), signal())).rejects.toBeInstanceOf(ContainerGoneError);
    await expect(port.oneShotStats("0".repeat(64), signal())).rejects.toBeInstanceOf(ContainerGoneError);
    const unreachable = createDockerSocketPort({ socketPath: "/nonexistent/docker.sock", maxSockets: 1 });
    await expect(unreachable.listContainers(signal())).rejects.toMatchObject({ code: "ENOENT" });
    unreachable.close();
    expect(new DockerApiError("/x", 500, "boom").message).toBe("GET /x answered 500: boom");
  });

  it("aborts a call when its signal fires", async () => {
    const controller = new AbortController();
    // One-shot stats wait for dockerd's next 1 s collection: long enough to abort in flight.
    const pending = port.oneShotStats(workload.id, controller.signal);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });
});
