import { describe, expect, it } from "vitest";
import { containerSummaryFrom } from "./container-summary.ts";

describe("containerSummaryFrom", () => {
  it("takes the id and the name without Docker's slash", () => {
    expect(containerSummaryFrom({ Id: "abc", Names: ["/web-1"], State: "running" })).toEqual({
      id: "abc",
      name: "web-1",
    });
  });

  it("prefers the container's own name over link aliases", () => {
    expect(containerSummaryFrom({ Id: "abc", Names: ["/app/db", "/db"] })?.name).toBe("db");
  });

  it("keeps a container without a usable name, and drops an entry without an id", () => {
    expect(containerSummaryFrom({ Id: "abc", Names: null })).toEqual({ id: "abc", name: "" });
    expect(containerSummaryFrom({ Id: "abc", Names: [7] })).toEqual({ id: "abc", name: "" });
    expect(containerSummaryFrom({ Names: ["/web"] })).toBeUndefined();
    expect(containerSummaryFrom({ Id: "" })).toBeUndefined();
    expect(containerSummaryFrom("abc")).toBeUndefined();
  });
});
