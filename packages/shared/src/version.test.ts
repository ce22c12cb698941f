import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { CROWSNEST_VERSION } from "./version.ts";

it("reports the version of the root package.json", () => {
  const root = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version?: string;
  };
  expect(CROWSNEST_VERSION).toBe(root.version);
});
