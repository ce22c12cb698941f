// `pnpm docs:config`: rewrites docs/configuration.md's reference from the services' specs.
import { readFileSync, writeFileSync } from "node:fs";
import { replaceConfigReference } from "./config-reference.ts";

const pageUrl = new URL("../../docs/configuration.md", import.meta.url);
writeFileSync(pageUrl, replaceConfigReference(readFileSync(pageUrl, "utf8")));
