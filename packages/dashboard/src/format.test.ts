import { describe, expect, it } from "vitest";
import { formatBytes, formatCount, formatDuration, formatPercent, formatRate } from "./format.ts";

describe("formatting", () => {
  it("gives bytes in binary units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(256 * 1024 * 1024)).toBe("256 MiB");
    expect(formatBytes(null)).toBe("—");
    expect(formatRate(2048)).toBe("2.0 KiB/s");
  });

  it("gives percentages and durations", () => {
    expect(formatPercent(12.345)).toBe("12.3 %");
    expect(formatPercent(150)).toBe("150 %");
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000 + 5000)).toBe("3d 4h");
    expect(formatDuration(65_000)).toBe("1m 5s");
    expect(formatDuration(0)).toBe("0s");
  });

  it("gives counts whole, and averages of counts to one decimal", () => {
    expect(formatCount(12)).toBe("12");
    expect(formatCount(4.25)).toBe("4.3");
    expect(formatCount(null)).toBe("—");
  });
});
