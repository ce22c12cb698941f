// dockerode with its SSH and BuildKit parts deferred, in a fresh Node process (require.cache is
// per process, and this test's own process may have loaded dockerode already): loading dockerode
// and talking to a Unix socket loads neither ssh2 nor gRPC; an ssh:// host and a BuildKit session
// still load theirs on first use.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const moduleUrl = new URL("./dockerode-on-demand-parts.ts", import.meta.url).href;

/** Runs `body` as an ES module beside this file, after the deferral; returns what it prints as JSON. */
async function runDeferred(body: string): Promise<Record<string, unknown>> {
  const script = `
    import { createRequire } from "node:module";
    import { deferDockerodeOptionalParts } from ${JSON.stringify(moduleUrl)};
    const require = createRequire(${JSON.stringify(import.meta.url)});
    const loaded = (pattern) => Object.keys(require.cache).some((file) => pattern.test(file));
    deferDockerodeOptionalParts();
    ${body}`;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "--eval", script], {
    cwd: fileURLToPath(new URL(".", import.meta.url)),
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe("deferDockerodeOptionalParts", () => {
  it("keeps ssh2 and gRPC out of a process that uses dockerode on a Unix socket", async () => {
    const result = await runDeferred(`
      const { default: Docker } = await import("dockerode");
      // A socket nobody listens on: the request goes through docker-modem's socket path.
      const error = await new Docker({ socketPath: "/nonexistent/docker.sock" }).ping().catch((e) => e);
      console.log(JSON.stringify({
        code: error.code,
        dockerode: loaded(/dockerode[\\\\/]lib[\\\\/]docker\\.js$/),
        ssh2: loaded(/[\\\\/]ssh2[\\\\/]/),
        grpc: loaded(/[\\\\/]@grpc[\\\\/]/),
        protobufjs: loaded(/[\\\\/]protobufjs[\\\\/]/),
      }));`);
    expect(result).toEqual({ code: "ENOENT", dockerode: true, ssh2: false, grpc: false, protobufjs: false });
  });

  it("loads ssh2 on the first use of an ssh:// host", async () => {
    const result = await runDeferred(`
      const { default: Docker } = await import("dockerode");
      // Port 9 on the loopback refuses: the error comes from ssh2's own connection attempt.
      const docker = new Docker({ protocol: "ssh", host: "127.0.0.1", port: 9, username: "nobody" });
      const error = await docker.ping().catch((e) => e);
      console.log(JSON.stringify({ code: error.code, ssh2: loaded(/[\\\\/]ssh2[\\\\/]/) }));`);
    expect(result).toEqual({ code: "ECONNREFUSED", ssh2: true });
  });

  it("loads gRPC on the first use of a BuildKit session", async () => {
    const result = await runDeferred(`
      const { default: Docker } = await import("dockerode");
      const withSession = createRequire(require.resolve("dockerode"))("./session");
      const docker = new Docker({ socketPath: "/nonexistent/docker.sock" });
      const error = await new Promise((resolve) => withSession(docker, undefined, (e) => resolve(e)));
      console.log(JSON.stringify({ code: error.code, grpc: loaded(/[\\\\/]@grpc[\\\\/]grpc-js[\\\\/]/) }));`);
    expect(result).toEqual({ code: "ENOENT", grpc: true });
  });

  it("refuses to run after dockerode has loaded", async () => {
    const script = `
      import { createRequire } from "node:module";
      import { deferDockerodeOptionalParts } from ${JSON.stringify(moduleUrl)};
      createRequire(${JSON.stringify(import.meta.url)})("dockerode");
      deferDockerodeOptionalParts();`;
    await expect(
      promisify(execFile)(process.execPath, ["--input-type=module", "--eval", script], {
        cwd: fileURLToPath(new URL(".", import.meta.url)),
      }),
    ).rejects.toThrow(/dockerode was loaded before its optional parts were deferred/);
  });
});
