import { ConfigError } from "@crowsnest/shared";
import type { KubeAccess } from "@crowsnest/shared/kubernetes";
import { describe, expect, it } from "vitest";
import { kubeletAccess } from "./kubelet-access.ts";

const IN_CLUSTER: KubeAccess = {
  server: new URL("https://10.96.0.1:443"),
  ca: Buffer.from("cluster CA"),
  insecureSkipTlsVerify: false,
  tlsServerName: "kubernetes.default.svc",
  clientCertificate: undefined,
  clientKey: undefined,
  token: undefined,
  tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
  clusterName: undefined,
};
const KUBELET = { host: "10.0.3.7", port: 10_250, caFile: undefined, insecureSkipTlsVerify: false };
const noFiles = async (path: string): Promise<Buffer> => {
  throw Object.assign(new Error(`no ${path}`), { code: "ENOENT" });
};

describe("kubeletAccess", () => {
  it("reaches the kubelet with the collector's own token file and the cluster's CA", async () => {
    const access = await kubeletAccess(IN_CLUSTER, KUBELET, noFiles);
    expect(access.server.href).toBe("https://10.0.3.7:10250/");
    expect(access).toMatchObject({
      ca: IN_CLUSTER.ca,
      tokenFile: IN_CLUSTER.tokenFile,
      insecureSkipTlsVerify: false,
      tlsServerName: undefined,
    });
  });

  it("takes the CA file and the TLS option given, and brackets an IPv6 address", async () => {
    const access = await kubeletAccess(
      IN_CLUSTER,
      { host: "fd00::7", port: 10_255, caFile: "/etc/kubelet-ca.crt", insecureSkipTlsVerify: true },
      async (path) => Buffer.from(`read ${path}`),
    );
    expect(access.server.href).toBe("https://[fd00::7]:10255/");
    expect(access.ca?.toString()).toBe("read /etc/kubelet-ca.crt");
    expect(access.insecureSkipTlsVerify).toBe(true);
  });

  it("refuses a CA file it cannot read with a ConfigError naming it", async () => {
    const reading = kubeletAccess(IN_CLUSTER, { ...KUBELET, caFile: "/missing.crt" }, noFiles);
    await expect(reading).rejects.toBeInstanceOf(ConfigError);
    await expect(reading).rejects.toThrow("cannot read CROWSNEST_KUBELET_CA_FILE /missing.crt: ENOENT");
  });
});
