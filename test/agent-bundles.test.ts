// The agents' bundles (docker/bundle-agents.ts), what the image runs: at start an agent loads
// neither zod (the contract's checks are hand-written for what it publishes; the watcher loads
// the schemas with its first RPC request) nor another runtime's modules, and the watcher loads
// dockerode from node_modules, where its optional parts are deferred. Neither bundles pino.
import { mkdtempSync, rmSync } from "node:fs";
import { isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Metafile } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { AGENTS, bundleAgent } from "../docker/bundle-agents.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const outRoot = mkdtempSync(join(tmpdir(), "crowsnest-agent-bundles-"));
afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

/** The outputs main.js loads as it starts: itself and what it imports statically. */
function loadedAtStart(metafile: Metafile): Set<string> {
  const main = Object.keys(metafile.outputs).find((path) => path.endsWith("/main.js"));
  if (main === undefined) throw new Error("the bundle has no main.js");
  const loaded = new Set<string>();
  const visit = (path: string) => {
    if (loaded.has(path)) return;
    loaded.add(path);
    for (const imported of metafile.outputs[path]?.imports ?? []) {
      if (imported.kind === "import-statement" && !imported.external) visit(imported.path);
    }
  };
  visit(main);
  return loaded;
}

/** The source files (workspace-relative) inside the given outputs. */
function inputsOf(metafile: Metafile, outputs: Iterable<string>): string[] {
  return [...outputs].flatMap((path) => Object.keys(metafile.outputs[path]?.inputs ?? {}));
}

describe.each(AGENTS)("the %s's bundle", (agent) => {
  const built = bundleAgent(agent, repo, join(outRoot, agent));

  it("loads no zod and no runtime's modules at start", async () => {
    const metafile = await built;
    const atStart = inputsOf(metafile, loadedAtStart(metafile));
    expect(atStart.some((input) => input.includes(`services/${agent}/src/main.ts`))).toBe(true);
    expect(atStart.filter((input) => input.includes("/zod/"))).toEqual([]);
    // A runtime's configuration is read at start (config.ts); its modules load when it is selected.
    const runtimeModules = atStart.filter(
      (input) =>
        (/\/src\/runtimes\/[^/]+\//.test(input) && !input.endsWith("-config.ts")) ||
        /shared\/src\/(kubernetes|containerd|cri)\/|\/@grpc\/|\/protobufjs\//.test(input),
    );
    expect(runtimeModules).toEqual([]);
  });

  it("logs without pino (the light logger writes pino's lines)", async () => {
    const metafile = await built;
    const all = inputsOf(metafile, Object.keys(metafile.outputs));
    expect(
      all.filter((input) => /\/(pino|sonic-boom|thread-stream|pino-std-serializers)\//.test(input)),
    ).toEqual([]);
  });

  it("keeps zod for the watcher's requests only, and dockerode outside", async () => {
    const metafile = await built;
    const all = inputsOf(metafile, Object.keys(metafile.outputs));
    const zod = all.filter((input) => input.includes("/zod/"));
    if (agent === "collector") expect(zod).toEqual([]);
    else expect(zod.length).toBeGreaterThan(0);
    expect(all.filter((input) => input.includes("/dockerode/"))).toEqual([]);
    const externals = Object.values(metafile.outputs).flatMap((output) =>
      output.imports.filter((imported) => imported.external && !isBuiltin(imported.path)),
    );
    expect(new Set(externals.map((imported) => imported.path))).toEqual(
      new Set(agent === "watcher" ? ["dockerode"] : []),
    );
  });
});
