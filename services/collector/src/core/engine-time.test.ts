import { describe, expect, it } from "vitest";
import { parseEngineTime } from "./engine-time.ts";

describe("parseEngineTime", () => {
  it("truncates Docker's nanosecond times to the millisecond", () => {
    expect(parseEngineTime("2026-11-21T20:51:40.361999999Z")).toBe(Date.parse("2026-11-21T20:51:40.361Z"));
    expect(parseEngineTime("2026-11-21T20:51:40.3Z")).toBe(Date.parse("2026-11-21T20:51:40.300Z"));
    expect(parseEngineTime("2026-11-21T20:51:40Z")).toBe(Date.parse("2026-11-21T20:51:40.000Z"));
    expect(parseEngineTime("2026-11-21T21:51:40.5+01:00")).toBe(Date.parse("2026-11-21T20:51:40.500Z"));
  });

  it("rejects what is not an RFC 3339 time", () => {
    for (const bad of [
      undefined,
      null,
      1_700_000_000,
      "",
      "yesterday",
      "Sat Nov 21 2026",
      "2026-13-45T99:99:99Z",
    ]) {
      expect(parseEngineTime(bad)).toBeUndefined();
    }
  });
});
