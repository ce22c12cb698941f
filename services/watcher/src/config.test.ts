import { ConfigError } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { collectorEnv } from "../../collector/src/config.ts";
import { parseWatcherConfig, watcherEnv } from "./config.ts";

describe("parseWatcherConfig", () => {
  it("has defaults for everything", () => {
    const config = parseWatcherConfig({});
    expect(config).toMatchObject({
      hostName: undefined,
      docker: { socketPath: "/var/run/docker.sock" },
      inventoryIntervalMs: 300_000,
      common: { subjectPrefix: "crowsnest", natsServers: ["nats://127.0.0.1:4222"] },
    });
  });

  it("reads the watcher's variables", () => {
    const config = parseWatcherConfig({
      CROWSNEST_HOST_NAME: "edge-7",
      CROWSNEST_DOCKER_SOCKET: "/run/user/1000/docker.sock",
      CROWSNEST_INVENTORY_INTERVAL_MS: "60000",
      CROWSNEST_SUBJECT_PREFIX: "acme",
    });
    expect(config).toMatchObject({
      hostName: "edge-7",
      docker: { socketPath: "/run/user/1000/docker.sock" },
      inventoryIntervalMs: 60_000,
      common: { subjectPrefix: "acme" },
    });
  });

  it("reads the Kubernetes variables, and takes the node name as the host name", () => {
    const config = parseWatcherConfig({
      CROWSNEST_RUNTIME: "kubernetes",
      CROWSNEST_KUBECONFIG: "/etc/crowsnest/kubeconfig",
      CROWSNEST_KUBERNETES_NODE_NAME: "worker-3",
      CROWSNEST_KUBERNETES_TIMEOUT_MS: "4000",
      CROWSNEST_KUBERNETES_WATCH_STALL_MS: "120000",
      KUBERNETES_SERVICE_HOST: "10.96.0.1",
      KUBERNETES_SERVICE_PORT: "443",
    });
    expect(config).toMatchObject({
      runtime: "kubernetes",
      hostName: "worker-3",
      kubernetes: {
        timeoutMs: 4000,
        watchStallMs: 120_000,
        kubeconfigPath: "/etc/crowsnest/kubeconfig",
        nodeName: "worker-3",
        serviceHost: "10.96.0.1",
        servicePort: "443",
      },
    });
    expect(
      parseWatcherConfig({ CROWSNEST_HOST_NAME: "edge", CROWSNEST_KUBERNETES_NODE_NAME: "worker-3" })
        .hostName,
    ).toBe("edge");
  });

  it("rejects an unknown runtime and a node name Kubernetes would not accept", () => {
    const read = () =>
      parseWatcherConfig({ CROWSNEST_RUNTIME: "podman", CROWSNEST_KUBERNETES_NODE_NAME: "Worker_3" });
    expect(read).toThrow(/CROWSNEST_RUNTIME.*CROWSNEST_KUBERNETES_NODE_NAME/s);
  });

  it("names every bad variable at once", () => {
    const read = () =>
      parseWatcherConfig({ CROWSNEST_HOST_NAME: "two words", CROWSNEST_INVENTORY_INTERVAL_MS: "5 min" });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/CROWSNEST_HOST_NAME.*CROWSNEST_INVENTORY_INTERVAL_MS/);
  });

  it("reads the host name the same way as the collector", () => {
    expect(watcherEnv.CROWSNEST_HOST_NAME).toBe(collectorEnv.CROWSNEST_HOST_NAME);
    expect(watcherEnv.CROWSNEST_NATS_URL).toBeDefined();
  });
});
