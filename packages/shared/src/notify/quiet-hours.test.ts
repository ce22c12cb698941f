import { describe, expect, it } from "vitest";
import { quietHoursSchema, quietUntil } from "./quiet-hours.ts";

const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const at = (clock: string) => new Date(`${day}T${clock}:00.000Z`);

describe("quiet hours", () => {
  const overnight = quietHoursSchema.parse({ start: "22:00", end: "07:00", time_zone: "UTC" });

  it("holds a message inside a window that crosses midnight until the window ends", () => {
    expect(quietUntil(overnight, at("23:30"))?.toISOString()).toBe(
      new Date(at("07:00").getTime() + 86_400_000).toISOString(),
    );
    expect(quietUntil(overnight, at("03:15"))?.toISOString()).toBe(at("07:00").toISOString());
  });

  it("lets a message through outside the window, and at its end", () => {
    expect(quietUntil(overnight, at("12:00"))).toBeUndefined();
    expect(quietUntil(overnight, at("07:00"))).toBeUndefined();
    expect(quietUntil(overnight, at("21:59"))).toBeUndefined();
  });

  it("reads the clock in the route's time zone", () => {
    // Kolkata is UTC+05:30 all year: 18:00 UTC is 23:30 there.
    const kolkata = quietHoursSchema.parse({ start: "22:00", end: "23:45", time_zone: "Asia/Kolkata" });
    expect(quietUntil(kolkata, at("18:00"))?.toISOString()).toBe(at("18:15").toISOString());
    expect(quietUntil(kolkata, at("12:00"))).toBeUndefined();
  });

  it("refuses malformed windows with a clear message", () => {
    const bad = quietHoursSchema.safeParse({ start: "25:00", end: "07:00", time_zone: "Mars/Olympus" });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues.map((i) => i.message))).toMatch(/HH:MM.*IANA time zone/);
  });
});
