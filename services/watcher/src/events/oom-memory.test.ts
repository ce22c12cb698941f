import { describe, expect, it } from "vitest";
import { OomMemory } from "./oom-memory.ts";

const SECOND = 1_000_000_000n;

describe("OomMemory", () => {
  it("answers per container and only within the window", () => {
    const memory = new OomMemory({ windowMs: 10_000, maxContainers: 10 });
    memory.observe("oom", "a", 100n * SECOND);
    expect(memory.wasOomKilled("a", 100n * SECOND + 5n)).toBe(true);
    expect(memory.wasOomKilled("b", 100n * SECOND + 5n)).toBe(false);
    expect(memory.wasOomKilled("a", 111n * SECOND)).toBe(false);
    expect(memory.wasOomKilled("a", 99n * SECOND)).toBe(false);
    memory.observe("die", "a", 100n * SECOND + 5n);
    expect(memory.wasOomKilled("a", 100n * SECOND + 6n)).toBe(false);
  });

  it("stays bounded", () => {
    const memory = new OomMemory({ windowMs: 10_000, maxContainers: 2 });
    for (const id of ["a", "b", "c"]) memory.observe("oom", id, SECOND);
    expect(memory.size).toBe(2);
    expect(memory.wasOomKilled("a", SECOND)).toBe(false);
    expect(memory.wasOomKilled("c", SECOND)).toBe(true);
  });
});
