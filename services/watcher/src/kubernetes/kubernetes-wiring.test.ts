import { ConfigError } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { kubernetesHostName } from "./kubernetes-wiring.ts";

describe("kubernetesHostName", () => {
  it("is CROWSNEST_HOST_NAME or the node name (config.hostName), else the kubeconfig's cluster", () => {
    expect(kubernetesHostName({ hostName: "edge" }, { clusterName: "prod" })).toBe("edge");
    expect(kubernetesHostName({ hostName: undefined }, { clusterName: "prod" })).toBe("prod");
  });

  it("is a configuration error in a pod watching the whole cluster without a host name", () => {
    const name = () => kubernetesHostName({ hostName: undefined }, { clusterName: undefined });
    expect(name).toThrow(ConfigError);
    expect(name).toThrow(/CROWSNEST_HOST_NAME is required/);
  });
});
