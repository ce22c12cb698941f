// A nats-server of a test's own (JetStream on, a loopback port of its own, optionally a token
// or TLS), for what the shared server must not go through: being stopped, and coming back with
// different credentials or certificates. Restarting keeps the port and the JetStream store.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as connectTcp, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "./test-env.ts";

/** TLS for the server's clients: its certificate, and with `verifyClientsCa` client certificates required and checked. */
export interface PrivateNatsTls {
  certFile: string;
  keyFile: string;
  verifyClientsCa?: string;
}

export interface PrivateNatsServer {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /**
   * Starts the server (again), with `token` as the only accepted credential and `tls` required
   * of every client if given; resolves once it accepts connections.
   */
  start(options?: { token?: string; tls?: PrivateNatsTls }): Promise<void>;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops it and removes its store. */
  dispose(): Promise<void>;
}

/** A loopback port nothing listens on (taken from the kernel, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address !== "object") throw new Error("no port");
  return address.port;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function createPrivateNatsServer(): Promise<PrivateNatsServer> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "crowsnest-nats-"));
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
    child = undefined;
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async start(options = {}) {
      await stop();
      const auth = options.token === undefined ? [] : ["--auth", options.token];
      const { tls } = options;
      const tlsFlags =
        tls === undefined
          ? []
          : [
              "--tls",
              "--tlscert",
              tls.certFile,
              "--tlskey",
              tls.keyFile,
              ...(tls.verifyClientsCa === undefined
                ? []
                : ["--tlsverify", "--tlscacert", tls.verifyClientsCa]),
            ];
      child = spawn(
        "nats-server",
        ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir, ...auth, ...tlsFlags],
        { stdio: "ignore" },
      );
      await eventually(async () => ((await accepts(port)) ? true : undefined), {
        timeoutMs: 20_000,
        intervalMs: 50,
        what: `nats-server to listen on port ${port}`,
      });
    },
    stop,
    async dispose() {
      await stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
