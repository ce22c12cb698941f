// A containerd of one test's own, beside the shared test containerd: its own socket, root and
// state directories (in a temporary directory), no CRI plugin, started and stopped by pid, so
// a test can restart it without touching anything else. Its shims live where every containerd
// keeps them (/run/containerd/s, fifo, runc) and survive its restarts, as in production; dispose()
// kills the tasks it made and removes its directories.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

export interface PrivateContainerd {
  readonly socket: string;
  /** `ctr` against this containerd in `namespace`. */
  ctr(namespace: string, ...args: string[]): Promise<string>;
  /** Imports an image from another containerd (the shared test one) into `namespace`. */
  importImage(fromSocket: string, image: string, namespace: string): Promise<void>;
  start(): Promise<void>;
  /** SIGTERM to containerd alone (its shims and their containers go on), and waits for its exit. */
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

export async function createPrivateContainerd(): Promise<PrivateContainerd> {
  const base = await mkdtemp(join(tmpdir(), "crowsnest-containerd-"));
  const socket = join(base, "containerd.sock");
  const config = join(base, "config.toml");
  await writeFile(
    config,
    [
      "version = 2",
      `root = "${join(base, "root")}"`,
      `state = "${join(base, "state")}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${socket}"`,
      "[ttrpc]",
      `  address = "${join(base, "containerd.sock.ttrpc")}"`,
      "[debug]",
      '  address = ""',
      "[metrics]",
      '  address = ""',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${join(base, "opt")}"`,
      "",
    ].join("\n"),
  );
  let child: ChildProcess | undefined;
  const namespaces = new Set<string>();
  const ctr = async (namespace: string, ...args: string[]): Promise<string> => {
    namespaces.add(namespace);
    return (await exec("ctr", ["--address", socket, "--namespace", namespace, ...args])).stdout;
  };

  const start = async (): Promise<void> => {
    child = spawn("containerd", ["--config", config], { stdio: "ignore", detached: false });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await exec("ctr", ["--address", socket, "version"]);
        return;
      } catch (error) {
        if (child.exitCode !== null) throw new Error(`containerd exited with ${child.exitCode}`);
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };

  const stop = async (): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, "exit");
    running.kill("SIGTERM");
    await exited;
  };

  return {
    socket,
    ctr,
    async importImage(fromSocket, image, namespace) {
      const archive = join(base, "image.tar");
      await exec("ctr", [
        "--address",
        fromSocket,
        "--namespace",
        "default",
        "images",
        "export",
        archive,
        image,
      ]);
      await ctr(namespace, "images", "import", archive);
      await rm(archive, { force: true });
    },
    start,
    stop,
    async dispose() {
      if (child !== undefined && child.exitCode === null) {
        for (const namespace of namespaces) {
          const tasks = (await ctr(namespace, "tasks", "list", "-q").catch(() => ""))
            .split("\n")
            .filter(Boolean);
          for (const task of tasks) {
            await ctr(namespace, "tasks", "kill", "--signal", "SIGKILL", task).catch(() => undefined);
            await ctr(namespace, "tasks", "delete", "--force", task).catch(() => undefined);
          }
          const containers = (await ctr(namespace, "containers", "list", "-q").catch(() => ""))
            .split("\n")
            .filter(Boolean);
          for (const container of containers)
            await ctr(namespace, "containers", "delete", container).catch(() => undefined);
        }
        await stop();
      }
      await exec("umount", ["--recursive", "--lazy", join(base, "root")]).catch(() => undefined);
      await rm(base, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
