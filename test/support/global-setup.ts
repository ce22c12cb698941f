// Finds the real servers the integration tests use. CI (and any machine prepared by
// test/infra/prepare-machine.sh) names them in CROWSNEST_TEST_* variables; elsewhere,
// Postgres and NATS are started with testcontainers, as a contributor with Docker would.
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL of a Postgres server; tests create their own databases in it. */
    adminDatabaseUrl: string;
    natsUrl: string;
    /** An image with busybox at /bin, for workload containers. */
    workloadImage: string;
    /**
     * Path of an admin kubeconfig (client certificate in system:masters) for a real Kubernetes
     * API server, or "" when there is none: Kubernetes tests then skip.
     */
    kubeconfig: string;
    /**
     * Name of the test cluster's real node (test/infra/kubernetes/start.sh: a kubelet on its
     * own containerd), or "" when there is none: tests that need it then fail wherever a
     * cluster is given or CI runs (see test/support/real-kubelet.ts).
     */
    kubeletNode: string;
    /**
     * Socket of the tests' own containerd (test/infra/containerd/start.sh: CRI plugin on, the
     * workload image in the `default` and `k8s.io` namespaces), or "" when there is none:
     * containerd and CRI tests then skip.
     */
    containerdSocket: string;
  }
}

type Stop = () => Promise<void>;

/** Test namespaces and fake nodes older than this are leftovers of runs that crashed. */
const LEFTOVER_AGE_MS = 2 * 60 * 60 * 1000;

export default async function setup(project: TestProject): Promise<Stop> {
  const stops: Stop[] = [];
  const env = process.env;

  let adminDatabaseUrl = env.CROWSNEST_TEST_DATABASE_URL;
  if (!adminDatabaseUrl) {
    const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
    const postgres = await new PostgreSqlContainer("postgres:15-alpine").start();
    stops.push(async () => void (await postgres.stop()));
    adminDatabaseUrl = postgres.getConnectionUri();
  }

  let natsUrl = env.CROWSNEST_TEST_NATS_URL;
  if (!natsUrl) {
    const { GenericContainer, Wait } = await import("testcontainers");
    const nats = await new GenericContainer("nats:2.10-alpine")
      .withCommand(["-js"])
      .withExposedPorts(4222)
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .start();
    stops.push(async () => void (await nats.stop()));
    natsUrl = `nats://${nats.getHost()}:${nats.getMappedPort(4222)}`;
  }

  project.provide("adminDatabaseUrl", adminDatabaseUrl);
  project.provide("natsUrl", natsUrl);
  project.provide("workloadImage", env.CROWSNEST_TEST_WORKLOAD_IMAGE || "busybox:1.36");
  const kubeconfig = env.CROWSNEST_TEST_KUBECONFIG ?? "";
  if (kubeconfig) {
    // The test cluster outlives runs; what a crashed run left (a fake node stays Ready and
    // schedulable forever) goes once it is surely nobody's any more.
    const { connectKubernetesCluster } = await import("./kubernetes-cluster.ts");
    await connectKubernetesCluster(kubeconfig).sweepLeftovers(LEFTOVER_AGE_MS);
  }
  project.provide("kubeconfig", kubeconfig);
  project.provide("kubeletNode", env.CROWSNEST_TEST_KUBELET_NODE ?? "");
  project.provide("containerdSocket", env.CROWSNEST_TEST_CONTAINERD_SOCKET ?? "");

  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}
