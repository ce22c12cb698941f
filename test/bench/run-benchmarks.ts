// `pnpm bench`: runs every test/bench/*.bench.ts (or those named on the command line) one
// after another, each printing its own figures. Benchmarks measure; they never fail a build.
import { readdirSync } from "node:fs";

const only = process.argv.slice(2);
const directory = new URL(".", import.meta.url);
const files = readdirSync(directory)
  .filter((file) => file.endsWith(".bench.ts"))
  .filter((file) => only.length === 0 || only.some((name) => file.startsWith(name)))
  .sort();

for (const file of files) {
  console.log(`\n### ${file}`);
  const module = (await import(new URL(file, directory).href)) as { run: () => Promise<void> };
  await module.run();
}
