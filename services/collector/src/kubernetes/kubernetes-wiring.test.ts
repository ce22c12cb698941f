import { ConfigError } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { kubernetesHostName } from "./kubernetes-wiring.ts";

describe("kubernetesHostName", () => {
  it("is CROWSNEST_HOST_NAME or the node name, else the kubeconfig's cluster name", () => {
    expect(kubernetesHostName({ hostName: "node-a" }, { clusterName: "prod" })).toBe("node-a");
    expect(kubernetesHostName({ hostName: undefined }, { clusterName: "prod" })).toBe("prod");
  });

  it("refuses to guess one for a whole cluster sampled from inside it", () => {
    expect(() => kubernetesHostName({ hostName: undefined }, { clusterName: undefined })).toThrow(
      ConfigError,
    );
    expect(() => kubernetesHostName({ hostName: undefined }, { clusterName: undefined })).toThrow(
      /CROWSNEST_HOST_NAME is required in Kubernetes mode/,
    );
  });
});
