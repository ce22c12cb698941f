// dockerode loads, as it loads, two parts the watcher never uses: docker-modem's SSH transport
// (lib/ssh.js: ssh2, its crypto and a 16 MB buffer for its poly1305 code) and dockerode's BuildKit
// session (lib/session.js: @grpc/grpc-js, @grpc/proto-loader, protobufjs). The watcher talks to
// dockerd over its Unix socket and never builds an image; the two cost it 6 to 11 MB of private
// memory (docs/benchmarks.md). main.ts calls deferDockerodeOptionalParts() first, which puts, in
// place of each of the two files, a function that loads the real file on its first call: an
// ssh:// Docker host or an image build still work, and pay for the part when they use it. Only
// these two files are replaced: @grpc/grpc-js itself loads as usual for whoever imports it.
//
// Why require.cache rather than a module.registerHooks() resolve hook or a patched copy of
// dockerode: dockerode is CommonJS, and require() takes a module from require.cache when its file
// is there ("adding or replacing entries is possible", Node's documentation, a stable API). This
// touches exactly the two files, changes nothing in how any other module resolves, and costs
// nothing after startup; a hook (release candidate in Node 24) would run on every later import of
// the process and would have to make up source text for the stand-ins. The files are found by
// dockerode's own resolution, so they follow the installed versions. If an upgrade moves either
// file, deferDockerodeOptionalParts() throws at startup; if one stops exporting a function, its
// stand-in throws on first use; if dockerode loads ssh2 or gRPC some other way,
// dockerode-on-demand-parts.test.ts fails.
import { existsSync } from "node:fs";
import { createRequire, Module } from "node:module";
import { dirname, join } from "node:path";

const requireFromWatcher = createRequire(import.meta.url);

/** A part of dockerode loaded on its first use, and what uses it (for the error if it cannot load). */
interface OnDemandPart {
  file: string;
  neededFor: string;
}

function onDemandParts(): OnDemandPart[] {
  const dockerodeDir = dirname(requireFromWatcher.resolve("dockerode/package.json"));
  const modemDir = dirname(
    createRequire(join(dockerodeDir, "package.json")).resolve("docker-modem/package.json"),
  );
  return [
    { file: join(modemDir, "lib", "ssh.js"), neededFor: "an ssh:// Docker host (ssh2)" },
    { file: join(dockerodeDir, "lib", "session.js"), neededFor: "a BuildKit session (@grpc/grpc-js)" },
  ];
}

/** Both parts export one function; the stand-in calls the real one, loading it on the first call. */
function standIn({ file, neededFor }: OnDemandPart): (...args: unknown[]) => unknown {
  let real: ((...args: unknown[]) => unknown) | undefined;
  return function callReal(this: unknown, ...args: unknown[]): unknown {
    if (real === undefined) {
      // The stand-in leaves the cache, so require() reads the real file (and caches it) this once.
      delete requireFromWatcher.cache[file];
      let exported: unknown;
      try {
        exported = requireFromWatcher(file);
      } catch (error) {
        throw new Error(`dockerode needs ${file} for ${neededFor}, and it failed to load`, { cause: error });
      }
      if (typeof exported !== "function") {
        throw new Error(`dockerode's ${file}, needed for ${neededFor}, no longer exports a function`);
      }
      real = exported as (...args: unknown[]) => unknown;
    }
    return real.apply(this, args);
  };
}

/**
 * Puts the stand-ins in require.cache. Throws when dockerode is loaded already (the stand-ins
 * would come too late: call it before anything imports dockerode) or when either file is not
 * where dockerode's version keeps it.
 */
export function deferDockerodeOptionalParts(): void {
  const dockerodeMain = requireFromWatcher.resolve("dockerode");
  if (requireFromWatcher.cache[dockerodeMain] !== undefined) {
    throw new Error("dockerode was loaded before its optional parts were deferred");
  }
  for (const part of onDemandParts()) {
    if (!existsSync(part.file)) {
      throw new Error(`dockerode's ${part.file} (${part.neededFor}) is missing: update ${import.meta.url}`);
    }
    const cached = new Module(part.file);
    cached.filename = part.file;
    cached.loaded = true;
    cached.exports = standIn(part);
    requireFromWatcher.cache[part.file] = cached;
  }
}
