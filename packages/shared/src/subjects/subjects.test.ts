import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors/crowsnest-error.ts";
import { ANY, createSubjects } from "./subjects.ts";

describe("createSubjects", () => {
  const subjects = createSubjects();

  it("builds every subject of the contract under crowsnest.v1", () => {
    expect(subjects.stats("node-1", "docker", "web")).toBe("crowsnest.v1.stats.node-1.docker.web");
    expect(subjects.hostStats("node-1")).toBe("crowsnest.v1.host.node-1");
    expect(subjects.event("node-1", "docker", "container", "die")).toBe(
      "crowsnest.v1.events.node-1.docker.container.die",
    );
    expect(subjects.inventory("node-1", "kubernetes")).toBe("crowsnest.v1.inventory.node-1.kubernetes");
    expect(subjects.alert("node-1", "web")).toBe("crowsnest.v1.alerts.node-1.web");
    expect(subjects.agent("node-1", "collector")).toBe("crowsnest.v1.agents.node-1.collector");
    expect(subjects.rpc("node-1", "logs")).toBe("crowsnest.v1.rpc.node-1.logs");
    expect(subjects.deadletter("store")).toBe("crowsnest.v1.deadletter.store");
    expect(subjects.all("stats")).toBe("crowsnest.v1.stats.>");
  });

  it("encodes names from hosts and containers into single tokens", () => {
    expect(subjects.stats("host.example.com", "docker", "ns/pod/c")).toBe(
      "crowsnest.v1.stats.host~2Eexample~2Ecom.docker.ns~2Fpod~2Fc",
    );
    expect(subjects.stats("h", "docker", "*").split(".")).toHaveLength(6);
  });

  it("uses * only for an explicit wildcard, never for a name that is *", () => {
    expect(subjects.stats(ANY, "docker", ANY)).toBe("crowsnest.v1.stats.*.docker.*");
    expect(subjects.stats("*", "docker", ">")).toBe("crowsnest.v1.stats.~2A.docker.~3E");
  });

  it("accepts multi-token prefixes and rejects invalid ones", () => {
    expect(createSubjects("acme.prod").hostStats("h")).toBe("acme.prod.v1.host.h");
    for (const bad of ["", "a..b", "a.*", "a b", ".a", "a>"]) {
      expect(() => createSubjects(bad)).toThrow(ConfigError);
    }
  });
});
