import { describe, expect, it } from "vitest";
import { matchesSelector, parseSelector } from "./labels.ts";

describe("label selectors", () => {
  const labels = { app: "web", tier: "front" };
  const matches = (selector: string) => {
    const parsed = parseSelector(selector);
    if (!parsed) throw new Error(`invalid: ${selector}`);
    return matchesSelector(labels, parsed);
  };

  it("matches equality, inequality and existence", () => {
    expect(matches("app=web")).toBe(true);
    expect(matches("app=web,tier=back")).toBe(false);
    expect(matches("app!=db")).toBe(true);
    expect(matches("tier")).toBe(true);
    expect(matches("!tier")).toBe(false);
    expect(matches("")).toBe(true);
  });

  it("refuses what is not a selector", () => {
    expect(parseSelector("!app=web")).toBeUndefined();
    expect(parseSelector("=web")).toBeUndefined();
  });
});
