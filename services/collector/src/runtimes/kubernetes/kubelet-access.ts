// How a one-node collector reaches its own node's kubelet without the API server's node proxy
// (which needs `nodes/proxy`, and with it every kubelet endpoint, exec included): the kubelet's
// address and port from the configuration, the collector's own credentials (the service
// account's token, re-read as it rotates, or the kubeconfig's), checked by the kubelet against
// `nodes/stats`, and the CA the kubelet's serving certificate must chain to.
import { readFile } from "node:fs/promises";
import { ConfigError } from "@crowsnest/shared/agent";
import type { KubeAccess } from "@crowsnest/shared/kubernetes";
import type { KubeletConfig } from "./kubernetes-config.ts";

export async function kubeletAccess(
  api: KubeAccess,
  kubelet: KubeletConfig,
  read: (path: string) => Promise<Buffer> = readFile,
): Promise<KubeAccess> {
  let ca = api.ca;
  if (kubelet.caFile !== undefined) {
    try {
      ca = await read(kubelet.caFile);
    } catch (error) {
      throw new ConfigError(
        `cannot read CROWSNEST_KUBELET_CA_FILE ${kubelet.caFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
  }
  const host = kubelet.host.includes(":") ? `[${kubelet.host}]` : kubelet.host;
  return {
    ...api,
    server: new URL(`https://${host}:${kubelet.port}`),
    ca,
    insecureSkipTlsVerify: kubelet.insecureSkipTlsVerify,
    // The API server's name means nothing for the kubelet's certificate.
    tlsServerName: undefined,
  };
}
