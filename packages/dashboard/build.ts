// Builds the dashboard into dist/: one JavaScript and one CSS bundle under content-hashed names
// in dist/assets/ (the api caches them for a year), and dist/index.html, which names them and
// is never cached. Everything comes from the workspace's own packages: no CDN, no web font.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "assets"), { recursive: true });

const result = await build({
  entryPoints: { main: join(root, "src/main.tsx") },
  outdir: join(dist, "assets"),
  entryNames: "[name]-[hash]",
  bundle: true,
  format: "esm",
  target: ["chrome111", "firefox115", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  minify: true,
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
const script = outputs.find((name) => name.endsWith(".js"));
const style = outputs.find((name) => name.endsWith(".css"));
if (!script || !style) throw new Error(`the build made no script or no stylesheet: ${outputs.join(", ")}`);

writeFileSync(
  join(dist, "index.html"),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Crowsnest</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/${style}">
<script type="module" src="/assets/${script}"></script>
</head>
<body>
<div id="app"><p class="boot">Loading Crowsnest…</p></div>
<noscript>The Crowsnest dashboard needs JavaScript. The API is at /api/v1 (docs at /api/v1/docs).</noscript>
</body>
</html>
`,
);
console.log(`dashboard built: dist/index.html, assets/${script}, assets/${style}`);
