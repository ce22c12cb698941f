import { describe, expect, it } from "vitest";
import { nodeList, nodeObject, podList } from "./fixtures/summary-fixtures.ts";
import { byteQuantity, limitsFromSpec, nodeFactsFromList, podFactsFromList } from "./pod-facts.ts";

describe("limitsFromSpec", () => {
  it("reads memory and CPU limits as bytes and cores", () => {
    expect(limitsFromSpec({ resources: { limits: { cpu: "500m", memory: "256Mi" } } })).toEqual({
      cpuLimitCores: 0.5,
      memLimitBytes: 268_435_456,
    });
    expect(limitsFromSpec({ resources: { limits: { cpu: "2", memory: "1G" } } })).toEqual({
      cpuLimitCores: 2,
      memLimitBytes: 1e9,
    });
  });

  it("is null where there is no limit, only a request, or a value that is not a quantity", () => {
    const unlimited = { cpuLimitCores: null, memLimitBytes: null };
    expect(limitsFromSpec({ name: "app" })).toEqual(unlimited);
    expect(limitsFromSpec({ resources: { requests: { cpu: "100m", memory: "64Mi" } } })).toEqual(unlimited);
    expect(limitsFromSpec({ resources: { limits: { cpu: "lots", memory: 12 } } })).toEqual(unlimited);
    expect(limitsFromSpec({ resources: { limits: { cpu: "0", memory: "0" } } })).toEqual(unlimited);
  });
});

describe("podFactsFromList", () => {
  it("reads every pod's containers in spec order, their limits (init containers too) and the node", () => {
    const pods = podFactsFromList(
      podList([
        {
          namespace: "shop",
          name: "web-7d9f",
          uid: "u-1",
          initContainers: [{ name: "migrate", limits: { memory: "32Mi" } }],
          containers: [{ name: "app", limits: { cpu: "1", memory: "128Mi" } }, { name: "proxy" }],
        },
        {
          namespace: "kube-system",
          name: "etcd-node-a",
          uid: "u-mirror",
          annotations: { "kubernetes.io/config.mirror": "f1e2d3" },
          containers: [{ name: "etcd" }],
        },
      ]),
    );
    const web = pods?.get("shop/web-7d9f");
    expect(web?.containerNames).toEqual(["app", "proxy"]);
    expect(web?.nodeName).toBe("node-a");
    expect(web?.uid).toBe("u-1");
    expect(web?.mirror).toBe(false);
    expect(web?.limits.get("app")).toEqual({ cpuLimitCores: 1, memLimitBytes: 134_217_728 });
    expect(web?.limits.get("proxy")).toEqual({ cpuLimitCores: null, memLimitBytes: null });
    expect(web?.limits.get("migrate")).toEqual({ cpuLimitCores: null, memLimitBytes: 33_554_432 });
    expect(pods?.get("kube-system/etcd-node-a")?.mirror).toBe(true);
  });

  it("is undefined for an answer that is not a list", () => {
    expect(podFactsFromList({ kind: "Status", code: 403 })).toBeUndefined();
  });
});

describe("nodeFactsFromList", () => {
  it("reads each node's CPU count and memory capacity", () => {
    const nodes = nodeFactsFromList(
      nodeList([
        nodeObject("a", { cpu: "4", memory: "8141468Ki" }),
        nodeObject("b", { cpu: "3500m", memory: "x" }),
      ]),
    );
    expect(nodes?.get("a")).toEqual({ onlineCpus: 4, memoryCapacityBytes: 8_141_468 * 1024 });
    expect(nodes?.get("b")).toEqual({ onlineCpus: 4, memoryCapacityBytes: null });
  });
});

describe("byteQuantity", () => {
  it("is whole bytes, fractions rounded up as the API server does, and never negative", () => {
    expect(byteQuantity("1.5")).toBe(2);
    expect(byteQuantity("100m")).toBe(1);
    expect(byteQuantity("1.5Gi")).toBe(1_610_612_736);
    expect(byteQuantity("-1Mi")).toBeNull();
    expect(byteQuantity("a lot")).toBeNull();
  });
});
