import { describe, expect, it } from "vitest";
import { parseQuantity } from "./quantity.ts";

describe("parseQuantity", () => {
  it.each([
    ["500m", 0.5],
    ["1.5", 1.5],
    ["2", 2],
    ["64Mi", 64 * 1024 * 1024],
    ["1Gi", 1024 ** 3],
    ["1G", 1e9],
    ["128974848", 128974848],
    ["129e6", 129e6],
    ["1e3", 1000],
    ["100k", 100_000],
    ["250u", 0.00025],
    [".5", 0.5],
  ])("%s is %d", (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value, 9);
  });

  it.each(["", "abc", "1Gb", "1.2.3", "Mi", "1 Mi", "1e"])("%j is not a quantity", (text) => {
    expect(parseQuantity(text)).toBeNull();
  });

  it("is null for a value that is not a string", () => {
    expect(parseQuantity(5)).toBeNull();
    expect(parseQuantity(undefined)).toBeNull();
  });
});
