// nats-servers of a test's own, for tests that kill a node, require credentials or TLS: the
// shared server serves every test and must never be stopped or reconfigured. Each server
// listens on loopback ports of its own (client, cluster route, monitoring), keeps its JetStream
// store in a temporary directory, and is stopped by its PID. Three of them form a JetStream
// cluster; one is a plain server with whatever configuration the test adds.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface NatsNode {
  /** server_name, e.g. `n1`: what stream and meta leaders are reported as. */
  readonly name: string;
  /** `nats://127.0.0.1:<port>` (`tls://` when the test's configuration enables TLS). */
  readonly url: string;
  readonly monitorUrl: string;
  /** The process id while it runs. */
  pid(): number | undefined;
  /** Starts the server (again) with the same store directory and waits until it serves clients. */
  start(): Promise<void>;
  /** kill -9 by PID, as a crashed machine would leave it, and waits for the exit. */
  kill(): Promise<void>;
}

export interface NatsServers {
  readonly nodes: readonly NatsNode[];
  /** Every node's client URL, for a client that should fail over between them. */
  readonly urls: readonly string[];
  /** The node that leads the JetStream meta group (cluster only), as the monitoring port reports it. */
  metaLeader(): Promise<string | undefined>;
  /** Waits until every running node reports the same meta leader. */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
  /** Every node's log, for a failing test's message. */
  logs(): Promise<string>;
  /** Stops every node (SIGTERM by PID) and deletes the directory. */
  remove(): Promise<void>;
}

export interface NatsServersOptions {
  /** 1: a single server; 3: a JetStream cluster. */
  count: number;
  /** nats-server configuration appended to every node's (authorization, tls, …). */
  extraConfig?: string;
  /** Each node's JetStream disk limit in GB (default 1: a test's streams are small). */
  maxFileStoreGb?: number;
  /** The scheme of the client URLs: `tls` when extraConfig requires TLS. */
  scheme?: "nats" | "tls";
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no TCP port for nats-server");
  return address.port;
}

async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

interface Jsz {
  meta_cluster?: { leader?: string };
}

async function jsz(monitorUrl: string): Promise<Jsz> {
  const response = await fetch(`${monitorUrl}/jsz`, { signal: AbortSignal.timeout(2000) });
  return (await response.json()) as Jsz;
}

export async function startNatsServers(options: NatsServersOptions): Promise<NatsServers> {
  const dir = await mkdtemp(join(tmpdir(), "crowsnest-nats-"));
  const ports = [];
  for (let index = 0; index < options.count; index += 1) {
    ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
  }
  const clustered = options.count > 1;
  const routes = ports.map((port) => `nats-route://127.0.0.1:${port.route}`).join(", ");
  const scheme = options.scheme ?? "nats";

  const nodes = ports.map((port, index): NatsNode & { stop(): Promise<void> } => {
    const name = `n${index + 1}`;
    const configPath = join(dir, `${name}.conf`);
    const logPath = join(dir, `${name}.log`);
    const monitorUrl = `http://127.0.0.1:${port.monitor}`;
    let child: ChildProcess | undefined;
    const config = [
      `server_name: ${name}`,
      `listen: "127.0.0.1:${port.client}"`,
      `http: "127.0.0.1:${port.monitor}"`,
      // Small limits: a test's streams are small, and the machine is shared.
      `jetstream { store_dir: "${join(dir, name)}", max_memory_store: 64MB, max_file_store: ${options.maxFileStoreGb ?? 1}GB }`,
      clustered
        ? `cluster { name: crowsnest-test, listen: "127.0.0.1:${port.route}", routes: [${routes}] }`
        : "",
      options.extraConfig ?? "",
    ].join("\n");

    const exited = (process: ChildProcess) => process.exitCode !== null || process.signalCode !== null;
    const signalAndWait = async (signal: NodeJS.Signals): Promise<void> => {
      const running = child;
      if (running === undefined || exited(running)) return;
      const exit = once(running, "exit");
      running.kill(signal);
      await exit;
      child = undefined;
    };
    return {
      name,
      url: `${scheme}://127.0.0.1:${port.client}`,
      monitorUrl,
      pid: () => child?.pid,
      async start() {
        if (child !== undefined && !exited(child)) return;
        await writeFile(configPath, `${config}\n`);
        const log = createWriteStream(logPath, { flags: "a" });
        await once(log, "open");
        const started = spawn("nats-server", ["-c", configPath], { stdio: ["ignore", log, log] });
        child = started;
        await waitUntil(
          async () => {
            if (exited(started))
              throw new Error(`nats-server ${name} exited: ${await readFile(logPath, "utf8")}`);
            return (await fetch(`${monitorUrl}/varz`, { signal: AbortSignal.timeout(2000) })).ok;
          },
          30_000,
          `nats-server ${name}`,
        );
      },
      kill: () => signalAndWait("SIGKILL"),
      stop: () => signalAndWait("SIGTERM"),
    };
  });

  const running = () => nodes.filter((node) => node.pid() !== undefined);
  const servers: NatsServers = {
    nodes,
    urls: nodes.map((node) => node.url),
    async metaLeader() {
      for (const node of running()) {
        const leader = (await jsz(node.monitorUrl).catch(() => ({}) as Jsz)).meta_cluster?.leader;
        if (leader) return leader;
      }
      return undefined;
    },
    async waitForMetaLeader(timeoutMs = 60_000) {
      let leader: string | undefined;
      await waitUntil(
        async () => {
          const seen = await Promise.all(
            running().map(async (node) => (await jsz(node.monitorUrl)).meta_cluster?.leader),
          );
          leader = seen[0];
          return leader !== undefined && leader !== "" && seen.every((each) => each === leader);
        },
        timeoutMs,
        "a JetStream meta leader",
      );
      return leader as string;
    },
    async logs() {
      const texts = await Promise.all(
        nodes.map(
          async (node) =>
            `--- ${node.name}\n${await readFile(join(dir, `${node.name}.log`), "utf8").catch(() => "")}`,
        ),
      );
      return texts.join("\n");
    },
    async remove() {
      await Promise.all(nodes.map((node) => node.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(nodes.map((node) => node.start()));
    if (clustered) await servers.waitForMetaLeader();
  } catch (error) {
    const logs = await servers.logs();
    await servers.remove();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs}`, { cause: error });
  }
  return servers;
}
