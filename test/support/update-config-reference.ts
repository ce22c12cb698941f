// `pnpm docs:config`: rewrites the README's configuration reference from the services' specs.
import { readFileSync, writeFileSync } from "node:fs";
import { replaceConfigReference } from "./config-reference.ts";

const readmeUrl = new URL("../../README.md", import.meta.url);
writeFileSync(readmeUrl, replaceConfigReference(readFileSync(readmeUrl, "utf8")));
