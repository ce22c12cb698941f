import { describe, expect, it } from "vitest";
import { containerdContainerName, containerdExternalId, ociLimits } from "./containerd-identity.ts";

describe("containerd identity", () => {
  it("keeps bare ids in the default namespace and prefixes the namespace elsewhere", () => {
    expect(containerdExternalId("default", "web-1")).toBe("web-1");
    expect(containerdExternalId("buildkit", "web-1")).toBe("buildkit/web-1");
  });

  it("names a container after nerdctl's label, else its id", () => {
    expect(containerdContainerName({ id: "abc", labels: { "nerdctl/name": "web" } })).toBe("web");
    expect(containerdContainerName({ id: "abc", labels: { "nerdctl/name": "" } })).toBe("abc");
    expect(containerdContainerName({ id: "abc", labels: {} })).toBe("abc");
  });
});

describe("ociLimits", () => {
  it("reads memory, CPU quota over period and pids as runc applies them", () => {
    expect(
      ociLimits({
        linux: {
          resources: {
            memory: { limit: 32 * 1024 * 1024 },
            cpu: { quota: 150_000, period: 100_000, shares: 1024 },
            pids: { limit: 64 },
          },
        },
      }),
    ).toEqual({ memLimitBytes: 32 * 1024 * 1024, cpuLimitCores: 1.5, pidsLimit: 64 });
  });

  it("takes the kernel's default period for a quota without one", () => {
    expect(ociLimits({ linux: { resources: { cpu: { quota: 50_000 } } } }).cpuLimitCores).toBe(0.5);
  });

  it("reads 0, -1 and absent values as no limit, never as the host's capacity", () => {
    const unlimited = { memLimitBytes: null, cpuLimitCores: null, pidsLimit: null };
    expect(ociLimits(undefined)).toEqual(unlimited);
    expect(ociLimits({ linux: { resources: { cpu: { shares: 1024 } } } })).toEqual(unlimited);
    expect(
      ociLimits({
        linux: {
          resources: { memory: { limit: -1 }, cpu: { quota: -1, period: 100_000 }, pids: { limit: 0 } },
        },
      }),
    ).toEqual(unlimited);
  });
});
