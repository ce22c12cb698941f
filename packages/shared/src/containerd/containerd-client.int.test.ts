// The containerd client against the tests' own containerd (test/infra/containerd/start.sh):
// what it lists, the events it streams, and the cgroup statistics it decodes, for containers
// made with `ctr` as a user of nerdctl or ctr would.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, describe, expect, inject, it } from "vitest";
import { ContainerdClient, type ContainerdEvent } from "./containerd-client.ts";

const socket = inject("containerdSocket");
const image = `docker.io/${inject("workloadImage")}`;
const NAMESPACE = "default";
const run = promisify(execFile);

async function ctr(...args: string[]): Promise<string> {
  const { stdout } = await run("ctr", ["--address", socket, "--namespace", NAMESPACE, ...args]);
  return stdout;
}

/** cgroup v2 alone ("unified") has cgroup.controllers at the root; v1 and hybrid hosts do not. */
function hostCgroupVersion(): 1 | 2 {
  return existsSync("/sys/fs/cgroup/cgroup.controllers") ? 2 : 1;
}

/** Collects a stream's events; `seen` waits (bounded) until one matches. */
function recordEvents(stream: AsyncIterable<ContainerdEvent>) {
  const events: ContainerdEvent[] = [];
  let wake: () => void = () => {};
  void (async () => {
    for await (const event of stream) {
      events.push(event);
      wake();
    }
  })();
  return {
    events,
    async seen(matches: (event: ContainerdEvent) => boolean, withinMs: number): Promise<boolean> {
      const deadline = Date.now() + withinMs;
      while (!events.some(matches)) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return true;
    },
  };
}

describe.skipIf(!socket)("ContainerdClient against a real containerd", () => {
  const client = new ContainerdClient({ socketPath: socket });
  const created: string[] = [];
  const timeout = () => AbortSignal.timeout(20_000);

  afterAll(async () => {
    for (const id of created) {
      await ctr("tasks", "kill", "--signal", "SIGKILL", id).catch(() => undefined);
      await ctr("tasks", "delete", "--force", id).catch(() => undefined);
      await ctr("containers", "delete", id).catch(() => undefined);
    }
    client.close();
  });

  it("says its version and lists the namespaces", async () => {
    expect((await client.version(timeout())).version).toMatch(/^\d+\.\d+/);
    expect(await client.namespaces(timeout())).toContain(NAMESPACE);
  });

  it("streams a container's lifecycle from subscription on, with exit code and exit time", async () => {
    const id = `crowsnest-test-${randomUUID().slice(0, 8)}`;
    created.push(id);
    const stop = new AbortController();
    const guard = setTimeout(() => stop.abort(), 60_000);
    const recorder = recordEvents(client.subscribe([`namespace==${NAMESPACE}`], stop.signal));
    // containerd does not confirm a subscription: it is in place once an event made after it
    // arrives, so make harmless ones (a container created and deleted, never run) until one does.
    for (
      let attempt = 0;
      !(await recorder.seen((event) => event.topic === "/containers/delete", 1000));
      attempt++
    ) {
      expect(attempt).toBeLessThan(20);
      const probe = `${id}-probe-${attempt}`;
      await ctr("containers", "create", image, probe, "true");
      await ctr("containers", "delete", probe);
    }
    await ctr("run", "-d", "--label", "nerdctl/name=lifecycle", image, id, "sh", "-c", "sleep 1; exit 3");
    const exited = await recorder.seen(
      (event) => event.topic === "/tasks/exit" && event.payload?.container_id === id,
      30_000,
    );
    clearTimeout(guard);
    stop.abort();
    expect(exited).toBe(true);

    const events = recorder.events.filter(
      (event) => event.payload?.container_id === id || event.payload?.id === id,
    );
    expect(events.map((event) => event.topic)).toEqual([
      "/containers/create",
      "/tasks/create",
      "/tasks/start",
      "/tasks/exit",
    ]);
    const exit = events.at(-1);
    expect(exit?.type).toBe("containerd.events.TaskExit");
    expect(exit?.payload).toMatchObject({ container_id: id, exit_status: 3 });
    const exitedAt = exit?.payload?.exited_at as { seconds: number } | undefined;
    expect(Math.abs((exitedAt?.seconds ?? 0) * 1000 - Date.now())).toBeLessThan(120_000);
    expect(exit?.namespace).toBe(NAMESPACE);
  });

  it("lists containers with labels, image and limits from the OCI spec, and their tasks", async () => {
    const id = `crowsnest-test-${randomUUID().slice(0, 8)}`;
    created.push(id);
    await ctr(
      "run",
      "-d",
      "--label",
      "nerdctl/name=limited",
      "--memory-limit",
      String(64 * 1024 * 1024),
      image,
      id,
      "sleep",
      "300",
    );

    const container = (await client.containers(NAMESPACE, timeout())).find((entry) => entry.id === id);
    expect(container).toMatchObject({ id, image, labels: { "nerdctl/name": "limited" } });
    expect(container?.spec?.linux?.resources?.memory?.limit).toBe(64 * 1024 * 1024);
    expect(container?.spec?.process?.args).toEqual(["sleep", "300"]);
    expect(container?.createdAt?.seconds).toBeGreaterThan(0);
    expect(await client.container(NAMESPACE, id, timeout())).toMatchObject({ id, image });

    const task = (await client.tasks(NAMESPACE, timeout())).find((entry) => entry.containerId === id);
    expect(task).toMatchObject({ containerId: id, status: "RUNNING" });
    expect(task?.pid).toBeGreaterThan(0);
    expect(await client.task(NAMESPACE, id, timeout())).toMatchObject({
      containerId: id,
      status: "RUNNING",
      pid: task?.pid,
    });
  });

  it("decodes a running task's cgroup statistics in the host's cgroup version", async () => {
    const id = `crowsnest-test-${randomUUID().slice(0, 8)}`;
    created.push(id);
    await ctr(
      "run",
      "-d",
      "--memory-limit",
      String(32 * 1024 * 1024),
      image,
      id,
      "sh",
      "-c",
      "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 300",
    );

    const [metric] = await client.metrics(NAMESPACE, [`id==${id}`], timeout());
    expect(metric?.containerId).toBe(id);
    const cgroup = metric?.cgroup;
    expect(cgroup?.version).toBe(hostCgroupVersion());
    if (cgroup?.version === 1) {
      expect(cgroup.cpu?.usage?.total).toBeGreaterThan(0);
      expect(cgroup.memory?.usage?.usage).toBeGreaterThan(0);
      expect(cgroup.memory?.usage?.limit).toBe(32 * 1024 * 1024);
      expect(cgroup.pids?.current).toBeGreaterThanOrEqual(1);
    } else if (cgroup?.version === 2) {
      expect(cgroup.cpu?.usage_usec).toBeGreaterThan(0);
      expect(cgroup.memory?.usage).toBeGreaterThan(0);
      expect(cgroup.memory?.usage_limit).toBe(32 * 1024 * 1024);
      expect(cgroup.pids?.current).toBeGreaterThanOrEqual(1);
    }
  });

  it("answers undefined for a container or task it does not know", async () => {
    expect(await client.container(NAMESPACE, "crowsnest-test-never-created", timeout())).toBeUndefined();
    expect(await client.task(NAMESPACE, "crowsnest-test-never-created", timeout())).toBeUndefined();
  });
});
