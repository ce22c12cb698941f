// Keeps the docs and docker-compose.yml true to the code: the configuration reference is
// the one the services' specs generate, every variable compose sets is one the service reads,
// every setting compose takes from .env is documented in .env.example, and the Dockerfile
// builds every workspace package with the project's pnpm.
import { readdirSync, readFileSync } from "node:fs";
import { codecs } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderConfigReference, SERVICE_ENV_SPECS } from "./support/config-reference.ts";

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");

describe("docs/configuration.md", () => {
  it("has the configuration reference the code generates (run `pnpm docs:config` to update it)", () => {
    expect(read("docs/configuration.md")).toContain(renderConfigReference());
  });
});

describe("README", () => {
  it("gives the same test command as .ci/run", () => {
    expect(read(".ci/run")).toContain("bash test/ci.sh");
    expect(read("README.md")).toContain("bash test/ci.sh");
  });
});

/** What the image runs of a service: the agents bundled (docker/bundle-agents.ts), the others as tsc compiles them. */
const entryPoint = (service: string) =>
  service === "collector" || service === "watcher"
    ? `services/${service}/bundle/main.js`
    : `services/${service}/dist/main.js`;

describe("docker-compose.yml", () => {
  const compose = parse(read("docker-compose.yml"), { merge: true }) as {
    services: Record<string, { environment?: Record<string, unknown>; command?: string[] }>;
  };

  it.each(Object.keys(SERVICE_ENV_SPECS))("sets only variables the %s reads", (service) => {
    const definition = compose.services[service];
    expect(definition, `compose has a ${service} service`).toBeDefined();
    const spec = SERVICE_ENV_SPECS[service as keyof typeof SERVICE_ENV_SPECS];
    const unknown = Object.keys(definition?.environment ?? {}).filter((name) => !(name in spec));
    expect(unknown).toEqual([]);
    // node, optionally V8 flags, then the service's own entry point.
    const command = definition?.command ?? [];
    expect(command[0]).toBe("node");
    expect(command.at(-1)).toBe(entryPoint(service));
    for (const flag of command.slice(1, -1)) expect(flag).toMatch(/^--[a-z0-9-]+(=\S+)?$/);
  });

  it("takes from the environment only settings .env.example documents", () => {
    const interpolated = [...read("docker-compose.yml").matchAll(/\$\{(\w+)/g)].map((match) => match[1]);
    const documented = [...read(".env.example").matchAll(/^(\w+)=/gm)].map((match) => match[1]);
    expect([...new Set(interpolated)].filter((name) => !documented.includes(name))).toEqual([]);
    expect(documented.filter((name) => !interpolated.includes(name))).toEqual([]);
  });
});

describe("deploy/containerd/agents.compose.yml", () => {
  const compose = parse(read("deploy/containerd/agents.compose.yml"), { merge: true }) as {
    services: Record<string, { environment?: Record<string, unknown>; command?: string[] }>;
  };

  it.each(["collector", "watcher"] as const)(
    "runs the %s on containerd with only variables it reads",
    (service) => {
      const definition = compose.services[service];
      const spec = SERVICE_ENV_SPECS[service];
      expect(Object.keys(definition?.environment ?? {}).filter((name) => !(name in spec))).toEqual([]);
      expect(definition?.environment?.CROWSNEST_RUNTIME).toBe("containerd");
      expect(definition?.command?.at(-1)).toBe(entryPoint(service));
    },
  );
});

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile");

  it("installs the pnpm of package.json's packageManager", () => {
    const { packageManager } = JSON.parse(read("package.json")) as { packageManager: string };
    expect(dockerfile).toContain(`npm install --global ${packageManager}`);
  });

  const workspacePackages = ["packages", "services"].flatMap((folder) =>
    readdirSync(new URL(`../${folder}`, import.meta.url)).map((name) => `${folder}/${name}`),
  );

  it.each(Object.keys(SERVICE_ENV_SPECS))(
    "copies what compose runs of the %s into the final image",
    (service) => {
      const built = entryPoint(service).replace(/\/main\.js$/, "");
      expect(dockerfile).toContain(`COPY --from=build /app/${built} ${built}`);
    },
  );

  it("copies the manifest of every workspace package before installing", () => {
    for (const path of workspacePackages) {
      expect(dockerfile, path).toContain(`COPY ${path}/package.json ${path}/`);
    }
  });

  // The image installs production dependencies only: a package that a service loads at run time
  // but that only the workspace root declares works in development and fails in the container.
  // The dashboard is not among them: esbuild bundles it into static files, so it loads nothing at run time.
  const nodePackages = workspacePackages.filter((path) => path !== "packages/dashboard");
  it.each(nodePackages)("%s declares every package it loads at run time", (path) => {
    const manifest = JSON.parse(read(`${path}/package.json`)) as { dependencies?: Record<string, string> };
    const entry = path === "packages/shared" ? "src/index.ts" : "src/main.ts";
    const undeclared = [...runtimePackages(new URL(`../${path}/${entry}`, import.meta.url))].filter(
      (name) => !(name in (manifest.dependencies ?? {})),
    );
    expect(undeclared).toEqual([]);
  });
});

describe("docs/bus-contract.md's examples", () => {
  const examples = [...read("docs/bus-contract.md").matchAll(/```json (\w+)\n([\s\S]*?)```/g)].map(
    (match) => ({
      codec: match[1] as keyof typeof codecs,
      body: match[2] ?? "",
    }),
  );

  it("shows an example of every message", () => {
    expect(new Set(examples.map((example) => example.codec))).toEqual(
      new Set([
        "stats",
        "hostStats",
        "event",
        "inventory",
        "alertTransition",
        "heartbeat",
        "logsRequest",
        "logsReply",
        "deadletter",
      ]),
    );
  });

  it.each(examples.map((example) => [example.codec, example.body] as const))(
    "the %s example is valid",
    (name, body) => {
      const decoded = codecs[name].decode(new TextEncoder().encode(body));
      expect(decoded).toMatchObject({ ok: true });
    },
  );
});

/** The packages a module and every module it imports load when it runs (type-only imports are erased). */
function runtimePackages(entry: URL): Set<string> {
  const packages = new Set<string>();
  const visited = new Set<string>();
  const visit = (file: URL): void => {
    if (visited.has(file.href)) return;
    visited.add(file.href);
    const source = readFileSync(file, "utf8");
    for (const match of source.matchAll(
      /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s*)?["']([^"']+)["']/gm,
    )) {
      const specifier = match[1] ?? "";
      if (specifier.startsWith(".")) {
        visit(new URL(specifier.replace(/\.js$/, ".ts"), file));
      } else if (!specifier.startsWith("node:")) {
        packages.add(
          specifier
            .split("/")
            .slice(0, specifier.startsWith("@") ? 2 : 1)
            .join("/"),
        );
      }
    }
  };
  visit(entry);
  return packages;
}
