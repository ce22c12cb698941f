// Bundles each agent (collector, watcher) into one minified ES module, as the image runs them:
// `node services/<agent>/bundle/main.js`. An agent then loads one module (and, for the runtime it
// is configured for, one chunk) instead of several hundred files of its own, of
// @crowsnest/shared and of its dependencies, which saves the module records, their sources and
// the resolution caches: MBs per agent (docs/benchmarks.md). Each runtime stays in its own
// chunk, loaded when it is selected, as `import()` does unbundled; so does the contract's zod
// codec, loaded by the watcher's first RPC request.
//
// dockerode stays outside the bundle: its main file loads docker-modem's SSH transport and the
// BuildKit session, which the watcher replaces in require.cache before dockerode loads
// (services/watcher/src/dockerode-on-demand-parts.ts); that only works on the files in
// node_modules. So the image keeps the watcher's production dependencies beside the bundle.
//
//   node docker/bundle-agents.ts            writes services/{collector,watcher}/bundle/
import { rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile, type Plugin } from "esbuild";

export const AGENTS = ["collector", "watcher"] as const;
export type Agent = (typeof AGENTS)[number];

/** Packages loaded from node_modules at run time rather than bundled (see above). */
const EXTERNAL: Record<Agent, string[]> = { collector: [], watcher: ["dockerode"] };

/**
 * node:http and node:https taken with require() rather than imported. The ES module facade of a
 * built-in reads every one of its exports, and node:http's WebSocket, CloseEvent and MessageEvent
 * are getters that load Node's fetch implementation (undici, with http2, zlib and perf_hooks;
 * undici's source alone is 0.7 MB of the collector's heap), which the collector, importing
 * node:http for dockerd's socket, never uses. Through require() the bundle reads only the exports
 * it uses, through a getter on each use: the other built-ins (node:fs on the collector's sampling
 * path) stay imported, bound directly.
 */
const HTTP_BUILTIN = /^(node:)?https?$/;
const requireBuiltins: Plugin = {
  name: "require-http-builtins",
  setup(build) {
    build.onResolve({ filter: HTTP_BUILTIN }, (args) =>
      args.namespace === "builtin"
        ? { path: `node:${args.path.replace(/^node:/, "")}`, external: true }
        : { path: args.path.replace(/^node:/, ""), namespace: "builtin" },
    );
    build.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
      contents: `module.exports = require("node:${args.path}");`,
      loader: "js",
    }));
  },
};

/**
 * Bundles `agent` from the sources of `repo` into `outDir` (emptied first): main.js and its
 * chunks. Returns esbuild's metafile (which input went into which output).
 */
export async function bundleAgent(agent: Agent, repo: string, outDir: string): Promise<Metafile> {
  rmSync(outDir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: repo,
    entryPoints: { main: join(repo, "services", agent, "src", "main.ts") },
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node22.12",
    // @crowsnest/shared from its TypeScript sources, as the tests run it.
    conditions: ["crowsnest-source"],
    external: EXTERNAL[agent],
    minify: true,
    // Readable stack traces in the logs: names are kept, only whitespace and syntax shrink.
    keepNames: true,
    legalComments: "none",
    chunkNames: "chunks/[name]-[hash]",
    // The CommonJS packages inside (pino, …) call require() for Node's modules.
    banner: {
      js: 'import { createRequire as __crowsnestRequire } from "node:module"; const require = __crowsnestRequire(import.meta.url);',
    },
    plugins: [requireBuiltins],
    metafile: true,
    logLevel: "warning",
  });
  return result.metafile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const repo = fileURLToPath(new URL("..", import.meta.url));
  for (const agent of AGENTS) {
    const metafile = await bundleAgent(agent, repo, join(repo, "services", agent, "bundle"));
    console.log(`${agent}: services/${agent}/bundle/ (${Object.keys(metafile.outputs).length} files)`);
  }
}
