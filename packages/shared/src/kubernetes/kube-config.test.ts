import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../errors/crowsnest-error.ts";
import {
  inClusterAccess,
  kubernetesHostName,
  loadKubeconfigFile,
  parseKubeconfig,
  resolveKubeAccess,
} from "./kube-config.ts";

const directory = mkdtempSync(join(tmpdir(), "kube-config-test-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const kubeconfig = (
  user: string,
  cluster = "server: https://127.0.0.1:6443\n    certificate-authority: ca.pem",
) => `
apiVersion: v1
kind: Config
current-context: admin@test
contexts:
- name: other
  context: { cluster: elsewhere, user: nobody }
- name: admin@test
  context:
    cluster: test
    user: admin
clusters:
- name: test
  cluster:
    ${cluster}
users:
- name: admin
  user:
    ${user}
`;

const noFiles = async (path: string): Promise<Buffer> => {
  throw new Error(`unexpected read of ${path}`);
};

describe("parseKubeconfig", () => {
  it("reads the current context's cluster and user, with files relative to the kubeconfig", async () => {
    writeFileSync(join(directory, "ca.pem"), "CA");
    writeFileSync(join(directory, "client.pem"), "CERT");
    const path = join(directory, "config");
    writeFileSync(
      path,
      kubeconfig(
        `client-certificate: client.pem\n    client-key-data: ${Buffer.from("KEY").toString("base64")}`,
      ),
    );
    const access = await loadKubeconfigFile(path);
    expect(access.server.href).toBe("https://127.0.0.1:6443/");
    expect(access.ca?.toString()).toBe("CA");
    expect(access.clientCertificate?.toString()).toBe("CERT");
    expect(access.clientKey?.toString()).toBe("KEY");
    expect(access.clusterName).toBe("test");
    expect(access.insecureSkipTlsVerify).toBe(false);
  });

  it("reads tokens, token files and insecure-skip-tls-verify", async () => {
    const access = await parseKubeconfig(
      kubeconfig(
        "token: abc\n    tokenFile: token",
        "server: https://kube.example:443/prefix\n    insecure-skip-tls-verify: true",
      ),
      { path: "/etc/crowsnest/config", readFile: noFiles },
    );
    expect(access).toMatchObject({
      token: "abc",
      tokenFile: "/etc/crowsnest/token",
      insecureSkipTlsVerify: true,
      ca: undefined,
    });
    expect(access.server.pathname).toBe("/prefix");
  });

  it.each([
    ["not YAML", "a: [", /not valid YAML/],
    ["no current context", "kind: Config", /no current-context/],
    [
      "a missing cluster",
      kubeconfig("token: a").replace("name: test", "name: renamed"),
      /no cluster named "test"/,
    ],
    ["an exec plugin", kubeconfig("exec: { command: aws }"), /exec, which Crowsnest does not run/],
    ["a plain-http server", kubeconfig("token: a", "server: http://127.0.0.1:8080"), /not an https URL/],
    [
      "a certificate without key",
      kubeconfig(
        `client-certificate-data: ${Buffer.from("C").toString("base64")}`,
        "server: https://127.0.0.1:6443",
      ),
      /without a key/,
    ],
  ])("refuses %s with a ConfigError", async (_case, text, message) => {
    const result = parseKubeconfig(text, { path: "/k", readFile: noFiles });
    await expect(result).rejects.toBeInstanceOf(ConfigError);
    await expect(result).rejects.toThrow(message);
  });
});

describe("in-cluster access", () => {
  it("uses the service account's token file and CA, and KUBERNETES_SERVICE_HOST/PORT", async () => {
    writeFileSync(join(directory, "token"), "sa-token");
    writeFileSync(join(directory, "ca.crt"), "SA-CA");
    const access = await resolveKubeAccess({
      kubeconfigPath: undefined,
      serviceHost: "fd00::1",
      servicePort: "443",
      kubeconfigEnv: "/nowhere",
      serviceAccountDirectory: directory,
    });
    expect(access.server.host).toBe("[fd00::1]");
    expect(access.tokenFile).toBe(join(directory, "token"));
    expect(access.ca?.toString()).toBe("SA-CA");
  });

  it("says which file is missing when the service account is not mounted", async () => {
    await expect(
      inClusterAccess({ host: "10.0.0.1", port: "443", directory: "/nonexistent" }),
    ).rejects.toThrow(/cannot read the service account's CA at \/nonexistent\/ca.crt: ENOENT/);
  });

  it("prefers an explicit kubeconfig over the service account", async () => {
    const path = join(directory, "explicit");
    writeFileSync(path, kubeconfig("token: t", "server: https://explicit:6443"));
    const access = await resolveKubeAccess({
      kubeconfigPath: path,
      serviceHost: "10.0.0.1",
      servicePort: "443",
      kubeconfigEnv: undefined,
    });
    expect(access.server.hostname).toBe("explicit");
  });
});

describe("kubernetesHostName (the collector's and the watcher's)", () => {
  it("is CROWSNEST_HOST_NAME or the node name (config.hostName), else the kubeconfig's cluster", () => {
    expect(kubernetesHostName({ hostName: "node-a" }, { clusterName: "prod" }, "sampling")).toBe("node-a");
    expect(kubernetesHostName({ hostName: undefined }, { clusterName: "prod" }, "watching")).toBe("prod");
  });

  it("is a configuration error in a pod covering the whole cluster without a host name", () => {
    for (const activity of ["sampling", "watching"]) {
      const name = () => kubernetesHostName({ hostName: undefined }, { clusterName: undefined }, activity);
      expect(name).toThrow(ConfigError);
      expect(name).toThrow(/CROWSNEST_HOST_NAME is required in Kubernetes mode/);
      expect(name).toThrow(`when ${activity} a whole cluster from inside it`);
    }
  });
});
