import { describe, expect, it } from "vitest";
import { OomMemory } from "./oom-memory.ts";

const SECOND = 1_000_000_000n;

describe("OomMemory", () => {
  it("answers per container and only within the window", () => {
    const memory = new OomMemory({ windowMs: 10_000, repeatWindowMs: 1000, maxContainers: 10 });
    memory.observe("oom", "a", 100n * SECOND);
    expect(memory.wasOomKilled("a", 100n * SECOND + 5n)).toBe(true);
    expect(memory.wasOomKilled("b", 100n * SECOND + 5n)).toBe(false);
    expect(memory.wasOomKilled("a", 111n * SECOND)).toBe(false);
    expect(memory.wasOomKilled("a", 99n * SECOND)).toBe(false);
    memory.observe("die", "a", 100n * SECOND + 5n);
    expect(memory.wasOomKilled("a", 100n * SECOND + 6n)).toBe(false);
  });

  it("stays bounded", () => {
    const memory = new OomMemory({ windowMs: 10_000, repeatWindowMs: 1000, maxContainers: 2 });
    for (const id of ["a", "b", "c"]) memory.observe("oom", id, SECOND);
    expect(memory.size).toBe(2);
    expect(memory.wasOomKilled("a", SECOND)).toBe(false);
    expect(memory.wasOomKilled("c", SECOND)).toBe(true);
  });

  it("recognizes dockerd's second oom of one kill, also after the die, until the next run", () => {
    const memory = new OomMemory({ windowMs: 10_000, repeatWindowMs: 1000, maxContainers: 10 });
    expect(memory.isRepeatedOom("a", 100n * SECOND)).toBe(false);
    memory.observe("oom", "a", 100n * SECOND);
    expect(memory.isRepeatedOom("a", 100n * SECOND + 30_000_000n)).toBe(true);
    expect(memory.isRepeatedOom("b", 100n * SECOND + 30_000_000n)).toBe(false);
    memory.observe("die", "a", 100n * SECOND + 40_000_000n);
    expect(memory.isRepeatedOom("a", 100n * SECOND + 90_000_000n)).toBe(true);
    expect(memory.isRepeatedOom("a", 102n * SECOND)).toBe(false);
    memory.observe("start", "a", 100n * SECOND + 500_000_000n);
    expect(memory.isRepeatedOom("a", 100n * SECOND + 600_000_000n)).toBe(false);
  });
});
