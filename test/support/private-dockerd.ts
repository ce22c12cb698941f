// A dockerd of a test's own, for tests that stop and restart the Docker daemon: the shared one
// serves every engineer and test and must never be stopped. It listens on its own socket, keeps
// its data and state in a temporary directory, runs in a network namespace of its own with no
// networking set up (containers run with NetworkMode none), and gets the workload image from the
// shared daemon (no registry).
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { workloadImage } from "./test-env.ts";

export interface PrivateDockerd {
  readonly socketPath: string;
  readonly docker: Docker;
  /** Starts the daemon (again) and waits until it answers. */
  start(): Promise<void>;
  /** SIGTERM by PID and waits for the exit, as a service manager stops dockerd. */
  stop(): Promise<void>;
  /** Stops the daemon if it runs and deletes its directory. */
  remove(): Promise<void>;
  /** The daemon's own log, for a failing test's message. */
  log(): Promise<string>;
}

async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Starts a private dockerd with the workload image loaded (the tests' own, unless a benchmark,
 * which runs outside vitest, names it).
 */
export async function startPrivateDockerd(options: { image?: string } = {}): Promise<PrivateDockerd> {
  const dir = await mkdtemp(join(tmpdir(), "crowsnest-dockerd-"));
  const socketPath = join(dir, "docker.sock");
  const logPath = join(dir, "dockerd.log");
  // Its own (empty) configuration: the host's /etc/docker/daemon.json is for the shared daemon.
  const configPath = join(dir, "daemon.json");
  await writeFile(configPath, "{}\n");
  await mkdir(join(dir, "data"));
  await mkdir(join(dir, "exec"));
  const docker = new Docker({ socketPath });
  let child: ChildProcess | undefined;

  const stop = async (): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, "exit");
    running.kill("SIGTERM");
    const timer = setTimeout(() => running.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
    child = undefined;
  };

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    const log = createWriteStream(logPath, { flags: "a" });
    await once(log, "open");
    // In a network namespace of its own: a dockerd reconfigures networking at start (with
    // --bridge=none it deletes docker0), which must never reach the shared daemon's network.
    // unshare execs dockerd, so the PID is dockerd's.
    const started = spawn(
      "unshare",
      [
        "--net",
        "dockerd",
        `--host=unix://${socketPath}`,
        `--data-root=${join(dir, "data")}`,
        `--exec-root=${join(dir, "exec")}`,
        `--pidfile=${join(dir, "docker.pid")}`,
        `--config-file=${configPath}`,
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
      ],
      { stdio: ["ignore", log, log] },
    );
    child = started;
    started.once("exit", () => {
      if (child === started) child = undefined;
      log.end();
    });
    try {
      await waitUntil(
        async () => {
          if (child !== started) throw new Error("dockerd exited");
          await docker.ping();
          return true;
        },
        30_000,
        "the private dockerd to answer",
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}; its log:\n${await readFile(logPath, "utf8").catch(() => "")}`,
      );
    }
  };

  try {
    await start();
    // `docker save | docker load` between the two daemons, without a registry.
    const image = await new Docker().getImage(options.image ?? workloadImage()).get();
    const loading = await docker.loadImage(image);
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(loading, (error) => (error ? reject(error) : resolve()));
    });
  } catch (error) {
    await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }

  return {
    socketPath,
    docker,
    start,
    stop,
    async remove() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
    log: () => readFile(logPath, "utf8"),
  };
}
