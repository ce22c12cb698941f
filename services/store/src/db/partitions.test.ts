// Day partitions: names and days agree in UTC, whatever the local time zone.
import { describe, expect, it } from "vitest";
import { dayNumber, dayStart, oldestKeptDay, partitionDay, partitionName } from "./partitions.ts";

describe("day partitions", () => {
  it("puts a sample in the UTC day of its timestamp, edges included", () => {
    const day = dayNumber("2026-11-21T00:00:00.000Z");
    expect(dayNumber("2026-11-21T23:59:59.999Z")).toBe(day);
    expect(dayNumber("2026-11-20T23:59:59.999Z")).toBe(day - 1);
    expect(dayStart(day).toISOString()).toBe("2026-11-21T00:00:00.000Z");
  });

  it("names a day's partition and reads the day back from the name", () => {
    const day = dayNumber("2026-02-03T12:00:00.000Z");
    expect(partitionName("container_stats", day)).toBe("container_stats_p20260203");
    expect(partitionDay("container_stats", "container_stats_p20260203")).toBe(day);
    expect(partitionDay("container_stats", "host_stats_p20260203")).toBeUndefined();
    expect(partitionDay("container_stats", "container_stats_hourly")).toBeUndefined();
  });

  it("keeps a day until its end is the retention old", () => {
    const day = dayNumber("2026-11-21T00:00:00.000Z");
    expect(oldestKeptDay(Date.parse("2026-11-28T23:59:59.999Z"), 7)).toBe(day);
    expect(oldestKeptDay(Date.parse("2026-11-29T00:00:00.000Z"), 7)).toBe(day + 1);
  });
});
