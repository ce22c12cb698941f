// The watcher as it ships (its src/main.ts in a child process) with CROWSNEST_RUNTIME=containerd,
// against the tests' own containerd (CROWSNEST_TEST_CONTAINERD_SOCKET; skipped without it):
// CONTAINERS containers run in a namespace of the bench's own, then are killed one at a time. For
// each, the time from containerd's exit time of the task (the `die` event's ts_nano, from
// TaskExit.exited_at) to the `die` message's arrival at a NATS subscriber. Beside it, the same
// for a bare subscriber of containerd's event service (the floor: what containerd itself takes
// to hand the exit out). Median, p99 and the slowest. Target: p99 ≤ 50 ms over 200 containers.
//
// Measures and prints; asserts nothing. Every container, image and namespace it creates is removed.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { codecs, createSubjects, DEFAULT_STREAM_RETENTION, streamDefinitions } from "@crowsnest/shared";
import { ContainerdClient } from "@crowsnest/shared/containerd";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

const SOCKET = process.env.CROWSNEST_TEST_CONTAINERD_SOCKET ?? "";
const IMAGE = `docker.io/${process.env.CROWSNEST_TEST_WORKLOAD_IMAGE || "crowsnest-test/busybox:1"}`;
const NATS_URL = process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
const CONTAINERS = Number(process.env.CROWSNEST_BENCH_CONTAINERS || 200);
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const exec = promisify(execFile);

const nowNano = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const fixed = (value: number, digits: number): number => Number(value.toFixed(digits));

export async function run(): Promise<void> {
  if (SOCKET === "") {
    console.log(
      "skipped: no test containerd (CROWSNEST_TEST_CONTAINERD_SOCKET; test/infra/containerd/start.sh)",
    );
    return;
  }
  const runId = `bench${Date.now().toString(36)}`;
  const namespace = `crowsnest-${runId}`;
  const prefix = `cn${runId}`;
  const ctr = async (...args: string[]): Promise<string> =>
    (await exec("ctr", ["--address", SOCKET, "--namespace", namespace, ...args])).stdout;
  const ids = Array.from({ length: CONTAINERS }, (_, index) => `${runId}-${index}`);
  const nc = await connect({ servers: NATS_URL });
  const client = new ContainerdClient({ socketPath: SOCKET });
  const stopBare = new AbortController();
  let watcher: ChildProcess | undefined;
  try {
    const dir = await mkdtemp(join(tmpdir(), "crowsnest-bench-"));
    try {
      await exec("ctr", [
        "--address",
        SOCKET,
        "--namespace",
        "default",
        "images",
        "export",
        join(dir, "i.tar"),
        IMAGE,
      ]);
      await ctr("images", "import", join(dir, "i.tar"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const startedAt = Date.now();
    await forEachBounded(ids, 4, async (id) => {
      await ctr("run", "-d", "--label", `nerdctl/name=${id}`, IMAGE, id, "sleep", "3600");
    });
    console.log(`${CONTAINERS} containers running in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);

    // The bare floor: containerd's own event stream, read in this process.
    const bare = new Map<string, number>();
    void (async () => {
      for await (const event of client.subscribe([`namespace==${namespace}`], stopBare.signal)) {
        if (event.topic !== "/tasks/exit") continue;
        const arrived = nowNano();
        const exited = event.payload?.exited_at as { seconds: number; nanos: number } | undefined;
        const id = String(event.payload?.container_id ?? "");
        if (exited === undefined || id === "") continue;
        bare.set(
          id,
          Number(arrived - (BigInt(exited.seconds) * 1_000_000_000n + BigInt(exited.nanos))) / 1e6,
        );
      }
    })();

    const subjects = createSubjects(prefix);
    const viaWatcher = new Map<string, number>();
    let inventoryContainers = 0;
    nc.subscribe(subjects.event(prefix, "containerd", "container", "die"), {
      callback: (error, message) => {
        if (error !== null) return;
        const arrived = nowNano();
        const decoded = codecs.event.decode(message.data);
        if (!decoded.ok || decoded.value.ts_nano === null || decoded.value.synthesized) return;
        const id = decoded.value.actor.external_id.slice(namespace.length + 1);
        viaWatcher.set(id, Number(arrived - BigInt(decoded.value.ts_nano)) / 1e6);
      },
    });
    nc.subscribe(subjects.inventory(prefix, "containerd"), {
      callback: (error, message) => {
        const decoded = error === null ? codecs.inventory.decode(message.data) : undefined;
        if (decoded?.ok && decoded.value.reason === "startup")
          inventoryContainers += decoded.value.containers.length;
      },
    });
    await nc.flush();
    watcher = spawn(
      process.execPath,
      [
        "--conditions=crowsnest-source",
        "--disable-warning=ExperimentalWarning",
        "services/watcher/src/main.ts",
      ],
      {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH ?? "",
          CROWSNEST_NATS_URL: NATS_URL,
          CROWSNEST_SUBJECT_PREFIX: prefix,
          CROWSNEST_HOST_NAME: prefix,
          CROWSNEST_RUNTIME: "containerd",
          CROWSNEST_CONTAINERD_SOCKET: SOCKET,
          CROWSNEST_CONTAINERD_NAMESPACES: namespace,
          CROWSNEST_LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    const readyBy = Date.now() + 120_000;
    while (inventoryContainers < CONTAINERS && Date.now() < readyBy)
      await new Promise((r) => setTimeout(r, 50));
    if (inventoryContainers < CONTAINERS)
      throw new Error(`the watcher's startup inventory listed ${inventoryContainers}`);

    for (const id of ids) {
      await ctr("tasks", "kill", "--signal", "SIGKILL", id);
      const deadline = Date.now() + 10_000;
      while ((!viaWatcher.has(id) || !bare.has(id)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }
    const row = (label: string, values: Map<string, number>) => {
      const sorted = [...values.values()].sort((a, b) => a - b);
      return {
        reader: label,
        exits: sorted.length,
        "median ms": fixed(percentile(sorted, 50), 2),
        "p99 ms": fixed(percentile(sorted, 99), 2),
        "max ms": fixed(sorted.at(-1) ?? Number.NaN, 2),
      };
    };
    console.log(
      `\ncontainerd: a task's exit time (TaskExit.exited_at) → arrival, ${CONTAINERS} containers killed one at a time (target: watcher p99 ≤ 50 ms)`,
    );
    console.table([
      row("bare Events.Subscribe in this process", bare),
      row("watcher → NATS die message", viaWatcher),
    ]);
  } finally {
    stopBare.abort();
    if (watcher !== undefined && watcher.exitCode === null) {
      watcher.kill("SIGTERM");
      await new Promise((resolve) => watcher?.once("exit", resolve));
    }
    await forEachBounded(ids, 4, async (id) => {
      await ctr("tasks", "delete", "--force", id).catch(() => undefined);
      await ctr("containers", "delete", id).catch(() => undefined);
    });
    await ctr("images", "remove", IMAGE).catch(() => undefined);
    await exec("ctr", ["--address", SOCKET, "namespaces", "remove", namespace]).catch(() => undefined);
    const jsm = await jetstreamManager(nc);
    for (const { config } of streamDefinitions(createSubjects(prefix), DEFAULT_STREAM_RETENTION)) {
      await jsm.streams.delete(config.name).catch(() => undefined);
    }
    await nc.close();
    client.close();
  }
}
