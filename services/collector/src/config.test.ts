import { ConfigError, DEFAULT_SUBJECT_PREFIX } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { collectorEnv, parseCollectorConfig } from "./config.ts";

describe("parseCollectorConfig", () => {
  it("runs with no variables set, on the documented defaults", () => {
    const config = parseCollectorConfig({});
    expect(config).toMatchObject({
      hostName: undefined,
      runtime: "docker",
      docker: {
        socketPath: "/var/run/docker.sock",
        timeoutMs: 5000,
        statsSource: "auto",
        cgroupRoot: "/sys/fs/cgroup",
        containerListMaxAgeMs: 60_000,
      },
      collectIntervalMs: 10_000,
      collectConcurrency: 32,
      procRoot: "/proc",
      publishBufferMax: 100_000,
      publishMaxInFlight: 256,
      publishBatchDelayMs: 10,
    });
    // The other runtime's settings are not there at all.
    expect(config).not.toHaveProperty("kubernetes");
    expect(config.common.subjectPrefix).toBe(DEFAULT_SUBJECT_PREFIX);
    expect(config.common.natsServers).toEqual(["nats://127.0.0.1:4222"]);
  });

  it("reads every variable it documents", () => {
    const every = {
      CROWSNEST_HOST_NAME: "node-7.example.com",
      CROWSNEST_DOCKER_SOCKET: "/run/user/1000/docker.sock",
      CROWSNEST_COLLECT_INTERVAL_MS: "2500",
      CROWSNEST_COLLECT_CONCURRENCY: "2",
      CROWSNEST_DOCKER_TIMEOUT_MS: "750",
      CROWSNEST_STATS_SOURCE: "api",
      CROWSNEST_CGROUP_ROOT: "/host/sys/fs/cgroup",
      CROWSNEST_PROC_ROOT: "/host/proc",
      CROWSNEST_CONTAINER_LIST_MAX_AGE_MS: "0",
      CROWSNEST_PUBLISH_BUFFER_MAX: "5000",
      CROWSNEST_PUBLISH_MAX_IN_FLIGHT: "64",
      CROWSNEST_PUBLISH_BATCH_DELAY_MS: "25",
      CROWSNEST_SUBJECT_PREFIX: "acme.prod",
      CROWSNEST_NATS_URL: "nats://a:4222,nats://b:4222",
      CROWSNEST_KUBECONFIG: "/etc/crowsnest/kubeconfig",
      CROWSNEST_KUBERNETES_NODE_NAME: "worker-3",
      CROWSNEST_KUBERNETES_TIMEOUT_MS: "4000",
      CROWSNEST_KUBERNETES_SPEC_MAX_AGE_MS: "30000",
      CROWSNEST_KUBELET_HOST: "10.0.3.7",
      CROWSNEST_KUBELET_PORT: "10255",
      CROWSNEST_KUBELET_CA_FILE: "/etc/crowsnest/kubelet-ca.crt",
      CROWSNEST_KUBELET_INSECURE_SKIP_TLS_VERIFY: "true",
      CROWSNEST_CONTAINERD_SOCKET: "/run/k3s/containerd/containerd.sock",
      CROWSNEST_CONTAINERD_NAMESPACES: "default,buildkit",
      CROWSNEST_CONTAINERD_TIMEOUT_MS: "1500",
    };
    // Each runtime's settings are read when it is the one selected.
    const config = parseCollectorConfig({ ...every, CROWSNEST_RUNTIME: "kubernetes" });
    expect(config).toMatchObject({
      runtime: "kubernetes",
      kubernetes: {
        kubeconfigPath: "/etc/crowsnest/kubeconfig",
        nodeName: "worker-3",
        timeoutMs: 4000,
        specMaxAgeMs: 30_000,
        kubelet: {
          host: "10.0.3.7",
          port: 10_255,
          caFile: "/etc/crowsnest/kubelet-ca.crt",
          insecureSkipTlsVerify: true,
        },
      },
      hostName: "node-7.example.com",
      collectIntervalMs: 2500,
      collectConcurrency: 2,
      procRoot: "/host/proc",
      publishBufferMax: 5000,
      publishMaxInFlight: 64,
      publishBatchDelayMs: 25,
    });
    expect(config.common.subjectPrefix).toBe("acme.prod");
    expect(config.common.natsServers).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(parseCollectorConfig({ ...every, CROWSNEST_RUNTIME: "docker" })).toMatchObject({
      runtime: "docker",
      docker: {
        socketPath: "/run/user/1000/docker.sock",
        timeoutMs: 750,
        statsSource: "api",
        cgroupRoot: "/host/sys/fs/cgroup",
        containerListMaxAgeMs: 0,
      },
    });
    expect(parseCollectorConfig({ ...every, CROWSNEST_RUNTIME: "containerd" })).toMatchObject({
      runtime: "containerd",
      containerd: {
        socketPath: "/run/k3s/containerd/containerd.sock",
        namespaces: ["default", "buildkit"],
        timeoutMs: 1500,
        statsSource: "api",
        cgroupRoot: "/host/sys/fs/cgroup",
        containerListMaxAgeMs: 0,
      },
    });
    // Unset namespaces: every one but those other runtimes report, which the runtime leaves out itself.
    expect(parseCollectorConfig({ CROWSNEST_RUNTIME: "containerd" })).toMatchObject({
      runtime: "containerd",
      containerd: { socketPath: "/run/containerd/containerd.sock", namespaces: undefined, timeoutMs: 5000 },
    });
    // The socket belongs to the Docker runtime's settings, present only when Docker is selected.
    expect(
      parseCollectorConfig({
        CROWSNEST_RUNTIME: "docker",
        CROWSNEST_DOCKER_SOCKET: "/run/user/1000/docker.sock",
      }),
    ).toMatchObject({ runtime: "docker", docker: { socketPath: "/run/user/1000/docker.sock" } });
  });

  it("rejects bad values, naming every one in a single error", () => {
    let error: unknown;
    try {
      parseCollectorConfig({
        CROWSNEST_HOST_NAME: "my host",
        CROWSNEST_DOCKER_SOCKET: "docker.sock",
        CROWSNEST_COLLECT_INTERVAL_MS: "500",
        CROWSNEST_COLLECT_CONCURRENCY: "0",
        CROWSNEST_DOCKER_TIMEOUT_MS: "soon",
        CROWSNEST_STATS_SOURCE: "files",
        CROWSNEST_CGROUP_ROOT: "sys/fs/cgroup",
        CROWSNEST_PROC_ROOT: "host/proc",
        CROWSNEST_CONTAINER_LIST_MAX_AGE_MS: "-1",
        CROWSNEST_PUBLISH_BUFFER_MAX: "10",
        CROWSNEST_PUBLISH_MAX_IN_FLIGHT: "0",
        CROWSNEST_PUBLISH_BATCH_DELAY_MS: "-5",
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of [
      "CROWSNEST_HOST_NAME",
      "CROWSNEST_DOCKER_SOCKET",
      "CROWSNEST_COLLECT_INTERVAL_MS",
      "CROWSNEST_COLLECT_CONCURRENCY",
      "CROWSNEST_DOCKER_TIMEOUT_MS",
      "CROWSNEST_STATS_SOURCE",
      "CROWSNEST_CGROUP_ROOT",
      "CROWSNEST_PROC_ROOT",
      "CROWSNEST_CONTAINER_LIST_MAX_AGE_MS",
      "CROWSNEST_PUBLISH_BUFFER_MAX",
      "CROWSNEST_PUBLISH_MAX_IN_FLIGHT",
      "CROWSNEST_PUBLISH_BATCH_DELAY_MS",
    ]) {
      expect(message).toContain(name);
    }
    expect(message).toContain(
      'CROWSNEST_COLLECT_INTERVAL_MS must be an integer from 1000 to 3600000, got "500"',
    );
  });
});

describe("the kubelet of Kubernetes node mode", () => {
  /** The kubelet settings of a Kubernetes-mode config with these variables. */
  function kubeletOf(env: Record<string, string>) {
    const config = parseCollectorConfig({ CROWSNEST_RUNTIME: "kubernetes", ...env });
    if (config.runtime !== "kubernetes") throw new Error("not a Kubernetes config");
    return config.kubernetes.kubelet;
  }

  it("is reached through the API server's node proxy unless its address is set", () => {
    expect(kubeletOf({ CROWSNEST_KUBERNETES_NODE_NAME: "worker-3" })).toBeUndefined();
    expect(
      kubeletOf({ CROWSNEST_KUBERNETES_NODE_NAME: "worker-3", CROWSNEST_KUBELET_HOST: "fd00::7" }),
    ).toEqual({ host: "fd00::7", port: 10_250, caFile: undefined, insecureSkipTlsVerify: false });
  });

  it("is one node's: an address without a node name is refused", () => {
    expect(() => parseCollectorConfig({ CROWSNEST_KUBELET_HOST: "10.0.3.7" })).toThrow(
      /CROWSNEST_KUBELET_HOST .* needs CROWSNEST_KUBERNETES_NODE_NAME/,
    );
    expect(() =>
      parseCollectorConfig({ CROWSNEST_KUBERNETES_NODE_NAME: "w", CROWSNEST_KUBELET_HOST: "10.0.3.7/24" }),
    ).toThrow(/CROWSNEST_KUBELET_HOST must be an IP address or a host name/);
  });
});

describe("collectorEnv", () => {
  it("documents every variable, the shared ones included, and none is required", () => {
    expect(Object.keys(collectorEnv)).toEqual(
      expect.arrayContaining(["CROWSNEST_NATS_URL", "CROWSNEST_LOG_LEVEL", "CROWSNEST_HOST_NAME"]),
    );
    for (const variable of Object.values(collectorEnv)) {
      expect(variable.description.length).toBeGreaterThan(10);
      expect(variable.required).toBe(false);
    }
  });

  it("leaves the host name to dockerd unless it is set, and rejects one with whitespace", () => {
    expect(collectorEnv.CROWSNEST_HOST_NAME.defaultText).toBeUndefined();
    expect(parseCollectorConfig({ CROWSNEST_HOST_NAME: "node-7" }).hostName).toBe("node-7");
    expect(() => parseCollectorConfig({ CROWSNEST_HOST_NAME: "node 7" })).toThrow(
      /CROWSNEST_HOST_NAME must be/,
    );
    expect(collectorEnv.CROWSNEST_COLLECT_INTERVAL_MS.defaultText).toBe("10000");
  });
});
