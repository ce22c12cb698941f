import { describe, expect, it } from "vitest";
import { decodeSubjectToken, encodeSubjectToken } from "./subject-token.ts";

const INVALID_IN_TOKEN = /[.*>\s]/;

describe("encodeSubjectToken", () => {
  it("keeps ordinary container names readable", () => {
    expect(encodeSubjectToken("web-1")).toBe("web-1");
    expect(encodeSubjectToken("db_primary")).toBe("db_primary");
  });

  it.each([
    ["dots", "my.app.v2", "my~2Eapp~2Ev2"],
    ["slashes", "/compose/web", "~2Fcompose~2Fweb"],
    ["spaces", "a b", "a~20b"],
    ["wildcards", "*", "~2A"],
    ["full wildcard", ">", "~3E"],
    ["the escape character", "~", "~7E"],
    ["tabs and newlines", "a\tb\n", "a~09b~0A"],
    ["unicode", "café", "caf~C3~A9"],
    ["emoji", "🐳", "~F0~9F~90~B3"],
  ])("escapes %s", (_label, raw, token) => {
    expect(encodeSubjectToken(raw)).toBe(token);
  });

  it("gives the empty name a non-empty token", () => {
    expect(encodeSubjectToken("")).toBe("~");
  });

  it("always yields exactly one valid NATS token", () => {
    const samples = ["", "a", ".", "..", "a.b.c", "x y", "*.>", "ns/pod/container", "Ωmega", "\u0000", "~~"];
    for (const raw of samples) {
      const token = encodeSubjectToken(raw);
      expect(token.length).toBeGreaterThan(0);
      expect(token).not.toMatch(INVALID_IN_TOKEN);
    }
  });
});

describe("decodeSubjectToken", () => {
  it("round-trips every name", () => {
    const samples = [
      "",
      "web-1",
      "/compose/web",
      "a.b",
      "*",
      ">",
      "~",
      "~7E",
      "café",
      "🐳 x",
      "\u0000",
      "ns/p/c",
    ];
    for (const raw of samples) {
      expect(decodeSubjectToken(encodeSubjectToken(raw))).toBe(raw);
    }
  });

  it("rejects what no encoding produces", () => {
    expect(decodeSubjectToken("")).toBeUndefined();
    expect(decodeSubjectToken("a.b")).toBeUndefined();
    expect(decodeSubjectToken("~2")).toBeUndefined();
    expect(decodeSubjectToken("~zz")).toBeUndefined();
    expect(decodeSubjectToken("~2e")).toBeUndefined(); // lower-case hex
    expect(decodeSubjectToken("~41")).toBeUndefined(); // an escaped plain character
    expect(decodeSubjectToken("~C3")).toBeUndefined(); // truncated UTF-8
  });
});
