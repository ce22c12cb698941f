import { describe, expect, it } from "vitest";
import { containerReference } from "./container-reference.ts";

describe("containerReference", () => {
  it("takes names, ids and id prefixes, with or without Docker's slash", () => {
    expect(containerReference("web")).toBe("web");
    expect(containerReference("/shop-web-1")).toBe("shop-web-1");
    expect(containerReference("my_app.v2")).toBe("my_app.v2");
    expect(containerReference("4f1c9b0e")).toBe("4f1c9b0e");
  });

  it("refuses anything that could reach another endpoint of dockerd or is no name", () => {
    for (const raw of [
      "../version",
      "web/../../info",
      "a b",
      "web?all=1",
      "-rf",
      ".hidden",
      "",
      "/",
      "web#x",
    ]) {
      expect(containerReference(raw)).toBeUndefined();
    }
  });
});
