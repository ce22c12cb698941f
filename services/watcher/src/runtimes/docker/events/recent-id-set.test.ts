import { describe, expect, it } from "vitest";
import { RecentIdSet } from "./recent-id-set.ts";

describe("RecentIdSet", () => {
  it("recognizes an id it has seen and forgets the oldest beyond its capacity", () => {
    const ids = new RecentIdSet(3);
    expect(ids.add("a")).toBe(true);
    expect(ids.add("a")).toBe(false);
    ids.add("b");
    ids.add("c");
    ids.add("d");
    expect(ids.size).toBe(3);
    expect(ids.has("a")).toBe(false);
    expect(ids.has("d")).toBe(true);
  });
});
