// The CRI client against the tests' own containerd (test/infra/containerd/start.sh, CRI plugin
// on): the API version it settles on, the sandboxes and containers it lists, a container's
// status (exit code, log path, limits), the stats, and what containerd 1.6 does not serve.
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { CriClient, isUnimplemented } from "./cri-client.ts";
import { CriTestDriver, type TestPod } from "./testing/cri-test-driver.ts";

const socket = inject("containerdSocket");
const image = `docker.io/${inject("workloadImage")}`;

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe.skipIf(!socket)("CriClient against containerd's CRI plugin", () => {
  const client = new CriClient(socket);
  const driver = new CriTestDriver(socket);
  const sandboxes: string[] = [];
  let logRoot = "";
  const timeout = () => AbortSignal.timeout(20_000);

  afterAll(async () => {
    for (const id of sandboxes) {
      await driver.stopPodSandbox(id).catch(() => undefined);
      await driver.removePodSandbox(id).catch(() => undefined);
    }
    driver.close();
    client.close();
    if (logRoot !== "") await rm(logRoot, { recursive: true, force: true });
  });

  it("settles on runtime.v1 and names the runtime", async () => {
    const runtime = await client.negotiate(timeout());
    expect(client.apiVersion).toBe("v1");
    expect(runtime.runtimeName).toBe("containerd");
    expect(runtime.runtimeApiVersion).toBe("v1");
  });

  it("lists a pod's sandbox and container, reads its status, its stats and its log file", async () => {
    logRoot = await mkdtemp(join(tmpdir(), "crowsnest-cri-client-"));
    const suffix = randomUUID().slice(0, 8);
    const pod: TestPod = {
      namespace: "crowsnest-test",
      name: `client-${suffix}`,
      uid: randomUUID(),
      logDirectory: join(logRoot, `crowsnest-test_client-${suffix}`),
    };
    const sandboxId = await driver.runPodSandbox(pod);
    sandboxes.push(sandboxId);
    const sleeper = await driver.createContainer(sandboxId, pod, {
      name: "sleeper",
      attempt: 0,
      image,
      command: ["sh", "-c", "echo hello; echo oops >&2; exec sleep 600"],
      memoryLimitBytes: 64 * 1024 * 1024,
      cpuLimitCores: 0.5,
    });
    await driver.startContainer(sleeper);
    const exiter = await driver.createContainer(sandboxId, pod, {
      name: "exiter",
      attempt: 0,
      image,
      command: ["sh", "-c", "exit 3"],
    });
    await driver.startContainer(exiter);

    const listed = (await client.podSandboxes(timeout())).find((sandbox) => sandbox.id === sandboxId);
    expect(listed).toMatchObject({
      name: pod.name,
      uid: pod.uid,
      namespace: pod.namespace,
      attempt: 0,
      state: "ready",
    });
    const containers = (await client.containers(timeout())).filter((c) => c.podSandboxId === sandboxId);
    expect(containers.map((c) => c.name).sort()).toEqual(["exiter", "sleeper"]);

    const exited = await until(async () => {
      const status = await client.containerStatus(exiter, false, timeout());
      return status?.state === "exited" ? status : undefined;
    }, "the exiter to exit");
    expect(exited.exitCode).toBe(3);
    expect(exited.startedAtNano).toBeGreaterThan(0n);
    // containerd records the start once the task's Start returns, which for a process that
    // exits at once can be just after its exit: the finish is within milliseconds of the start.
    expect(exited.finishedAtNano).toBeGreaterThanOrEqual((exited.startedAtNano ?? 0n) - 10_000_000n);

    const running = await client.containerStatus(sleeper, true, timeout());
    expect(running?.state).toBe("running");
    expect(running?.logPath).toBe(join(pod.logDirectory, "sleeper", "0.log"));
    // containerd 1.6 leaves `resources` out; its verbose info has the spec's limits.
    const spec = JSON.parse(running?.info.info ?? "{}") as {
      pid?: number;
      runtimeSpec?: { linux?: { resources?: { memory?: { limit?: number } } } };
    };
    expect(running?.resources?.memoryLimitBytes ?? spec.runtimeSpec?.linux?.resources?.memory?.limit).toBe(
      64 * 1024 * 1024,
    );
    expect(spec.pid).toBeGreaterThan(0);

    const log = await until(async () => {
      const text = await readFile(join(pod.logDirectory, "sleeper", "0.log"), "utf8").catch(() => "");
      return text.includes("oops") ? text : undefined;
    }, "the sleeper's log");
    expect(log).toMatch(/^\d{4}-\d\d-\d\dT\S+ stdout F hello$/m);
    expect(log).toMatch(/^\d{4}-\d\d-\d\dT\S+ stderr F oops$/m);

    const stats = await until(async () => {
      const entry = (await client.containerStats(timeout())).find((s) => s.id === sleeper);
      return entry?.memory?.workingSetBytes !== undefined ? entry : undefined;
    }, "the sleeper's stats");
    expect(stats.name).toBe("sleeper");
    expect(stats.cpu?.usageCoreNanoSeconds).toBeGreaterThan(0);
    expect(stats.memory?.workingSetBytes).toBeGreaterThan(0);
    expect(stats.cpu?.timestampNano).toBeGreaterThan(0n);

    expect(await client.containerStatus("no-such-container", false, timeout())).toBeUndefined();
  });

  it("finds containerd 1.6 without a container event stream (UNIMPLEMENTED), and says so", async () => {
    const stop = new AbortController();
    const guard = setTimeout(() => stop.abort(), 20_000);
    let failure: unknown;
    try {
      for await (const _event of client.containerEvents(stop.signal)) break;
    } catch (error) {
      failure = error;
    } finally {
      clearTimeout(guard);
    }
    // containerd ≥ 1.7 serves the stream: then nothing failed.
    const runtime = await client.version(timeout());
    if (runtime.runtimeVersion.startsWith("1.6")) expect(isUnimplemented(failure)).toBe(true);
  });
});
