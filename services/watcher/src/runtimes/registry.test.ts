// A runtime's modules load only when it is selected: the watcher's core (everything main.ts
// loads before it picks a runtime) plus the Kubernetes runtime never load dockerode or a module of
// the Docker runtime, and the reverse. Checked in a fresh Node process that records every module
// it loads, as main.ts would load them.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const watcherDir = fileURLToPath(new URL("../..", import.meta.url));

/** Every module URL loaded by the core and the named runtime's entry in the registry. */
function modulesLoadedFor(runtime: string): string[] {
  const script = `
    import { registerHooks } from "node:module";
    const loaded = [];
    registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
    await import(${JSON.stringify(new URL("../watcher-service.ts", import.meta.url).href)});
    const { watcherRuntimes } = await import(${JSON.stringify(new URL("./registry.ts", import.meta.url).href)});
    await watcherRuntimes[${JSON.stringify(runtime)}]();
    process.stdout.write(JSON.stringify(loaded));
  `;
  const output = execFileSync(
    process.execPath,
    [
      "--conditions=crowsnest-source",
      "--disable-warning=ExperimentalWarning",
      "--input-type=module",
      "--eval",
      script,
    ],
    { cwd: watcherDir, encoding: "utf8", timeout: 60_000 },
  );
  return JSON.parse(output) as string[];
}

const isDockerModule = (url: string) => /\/dockerode\/|\/runtimes\/docker\//.test(url);
const isKubernetesModule = (url: string) => /\/runtimes\/kubernetes\//.test(url);

describe("runtime loading", () => {
  it("loads no Docker module, dockerode included, in Kubernetes mode", () => {
    const loaded = modulesLoadedFor("kubernetes");
    expect(loaded.some(isKubernetesModule)).toBe(true);
    expect(loaded.filter(isDockerModule)).toEqual([]);
  }, 90_000);

  it("loads dockerode and no Kubernetes module in Docker mode", () => {
    const loaded = modulesLoadedFor("docker");
    expect(loaded.some((url) => url.includes("/dockerode/"))).toBe(true);
    expect(loaded.filter(isKubernetesModule)).toEqual([]);
  }, 90_000);

  it("loads gRPC and neither Docker nor Kubernetes modules in cri mode", () => {
    const loaded = modulesLoadedFor("cri");
    expect(loaded.some((url) => /\/runtimes\/cri\//.test(url))).toBe(true);
    expect(loaded.some((url) => url.includes("/@grpc/grpc-js/"))).toBe(true);
    expect(loaded.filter(isDockerModule)).toEqual([]);
    expect(loaded.filter(isKubernetesModule)).toEqual([]);
    // The CRI's write calls are for the tests alone.
    expect(loaded.filter((url) => url.includes("/cri/testing/"))).toEqual([]);
  }, 90_000);
});
