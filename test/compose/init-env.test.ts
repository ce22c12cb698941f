// init.sh, the quick start's first step, run as a user runs it: under POSIX shells (dash,
// busybox sh), with a real socket, on "macOS" (a uname that says Darwin and a stat without
// GNU's -c on PATH). It writes .env once with a token the api accepts, and never again.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseApiConfig } from "../../services/api/src/config.ts";

const SCRIPT = join(import.meta.dirname, "../../init.sh");
// Not a group this machine's socket is likely to have, so the value read is the one set here.
const SOCKET_GID = 4242;
const IS_ROOT = process.getuid?.() === 0;

const shells = [["dash"], ["busybox", "sh"]].filter(
  ([command]) => spawnSync("sh", ["-c", `command -v ${command}`]).status === 0,
);

function readEnvFile(path: string): Record<string, string> {
  const entries = readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const at = line.indexOf("=");
      return [line.slice(0, at), line.slice(at + 1)] as const;
    });
  return Object.fromEntries(entries);
}

describe("init.sh", () => {
  let dir: string;
  let socketDir: string;
  let socketPath: string;
  let server: Server;

  const run = (shell: string[], env: Record<string, string> = {}) => {
    const [command, ...args] = shell as [string, ...string[]];
    const result = spawnSync(command, [...args, join(dir, "init.sh")], {
      env: { PATH: process.env.PATH ?? "", DOCKER_SOCKET: socketPath, ...env },
      encoding: "utf8",
      timeout: 20_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  beforeAll(async () => {
    socketDir = mkdtempSync(join(tmpdir(), "init-socket-"));
    socketPath = join(socketDir, "docker.sock");
    server = createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    if (IS_ROOT) chownSync(socketPath, 0, SOCKET_GID);
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(socketDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "init-env-"));
    copyFileSync(SCRIPT, join(dir, "init.sh"));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs under at least one POSIX shell besides bash", () => {
    expect(shells.length).toBeGreaterThan(0);
  });

  it.each(shells)(
    "under %s: writes .env once, with the socket's group and a token the api accepts",
    (...shell) => {
      const first = run(shell);
      expect(first.stderr).toContain("wrote .env");
      expect(first.status).toBe(0);
      const envPath = join(dir, ".env");
      const written = readFileSync(envPath, "utf8");
      const env = readEnvFile(envPath);
      expect(env.DOCKER_GID).toBe(String(IS_ROOT ? SOCKET_GID : process.getgid?.()));
      expect(env.CROWSNEST_DOCKER_API_PROXY_USER).toBeUndefined();
      const token = env.CROWSNEST_API_READ_TOKENS as string;
      expect(token).toMatch(/^[0-9a-f]{48}$/);
      expect(first.stdout).toContain(token);
      // The token is a secret: the file is for its owner only.
      expect(statSync(envPath).mode & 0o777).toBe(0o600);
      // What the api itself makes of it (it refuses to start on a token it does not accept).
      expect(parseApiConfig({ CROWSNEST_API_READ_TOKENS: token }).auth?.readTokens).toEqual([token]);

      const second = run(shell);
      expect(second.status).toBe(0);
      expect(second.stderr).toContain(".env exists");
      expect(second.stdout).toBe("");
      expect(readFileSync(envPath, "utf8")).toBe(written);
    },
  );

  it("makes a different token on every new .env", () => {
    const tokens = new Set<string>();
    for (let i = 0; i < 3; i++) {
      rmSync(join(dir, ".env"), { force: true });
      expect(run(["sh"]).status).toBe(0);
      tokens.add(readEnvFile(join(dir, ".env")).CROWSNEST_API_READ_TOKENS as string);
    }
    expect(tokens.size).toBe(3);
  });

  it("leaves an .env the user wrote alone, token and all", () => {
    const own = "CROWSNEST_API_READ_TOKENS=my-own-token-0123456789\n";
    writeFileSync(join(dir, ".env"), own);
    const result = run(["sh"]);
    expect(result.status).toBe(0);
    expect(readFileSync(join(dir, ".env"), "utf8")).toBe(own);
  });

  it("on macOS (Docker Desktop) needs no GNU stat, and gives the proxy root's access inside the VM", () => {
    const bin = join(dir, "bin");
    spawnSync("mkdir", [bin]);
    // macOS's uname, and a BSD stat that knows no -c: the script must not need it.
    writeFileSync(join(bin, "uname"), "#!/bin/sh\necho Darwin\n");
    writeFileSync(join(bin, "stat"), "#!/bin/sh\necho 'stat: illegal option -- c' >&2\nexit 1\n");
    chmodSync(join(bin, "uname"), 0o755);
    chmodSync(join(bin, "stat"), 0o755);
    const result = run(["sh"], { PATH: `${bin}:${process.env.PATH ?? ""}` });
    expect(result.status).toBe(0);
    const env = readEnvFile(join(dir, ".env"));
    expect(env.DOCKER_GID).toBe("0");
    expect(env.CROWSNEST_DOCKER_API_PROXY_USER).toBe("root");
    expect(env.CROWSNEST_API_READ_TOKENS).toMatch(/^[0-9a-f]{48}$/);
  });

  it("writes nothing when there is no Docker socket, and says where it looked", () => {
    const result = run(["sh"], { DOCKER_SOCKET: join(dir, "missing.sock") });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("no Docker socket at");
    expect(() => statSync(join(dir, ".env"))).toThrow();
  });
});
