// `pnpm contract`: writes the bus contract generated from the code (AsyncAPI document, JSON
// Schemas, HTML page) to `contract/`, removing schema files of messages that no longer exist.
// `pnpm contract --release` also makes it the released baseline (`contract/baseline/`) that
// test/contract.test.ts checks every later change against: run it when cutting a release.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { ASYNCAPI_FILE, contractFiles } from "@crowsnest/shared/contract";

const contractDir = new URL("../../contract/", import.meta.url);

function write(dir: URL, files: ReadonlyMap<string, string>): void {
  mkdirSync(new URL("schemas/", dir), { recursive: true });
  for (const name of readdirSync(new URL("schemas/", dir))) {
    if (!files.has(`schemas/${name}`)) rmSync(new URL(`schemas/${name}`, dir));
  }
  for (const [path, content] of files) writeFileSync(new URL(path, dir), content);
}

const files = contractFiles();
write(contractDir, files);
console.log(`wrote ${files.size} files to contract/`);
if (process.argv.includes("--release")) {
  const released = new Map(
    [...files].filter(([path]) => path === ASYNCAPI_FILE || path.startsWith("schemas/")),
  );
  write(new URL("baseline/", contractDir), released);
  console.log(`wrote ${released.size} files to contract/baseline/`);
}
