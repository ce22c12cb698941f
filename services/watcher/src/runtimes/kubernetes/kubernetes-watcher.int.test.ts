// The Kubernetes watcher against a real kube-apiserver (test/infra/kubernetes/) and a real NATS
// server: what a subscriber sees when a Deployment's pods come and go, when a container is
// OOM-killed, when the watch connection breaks, and what log and inspect requests answer. The
// watcher watches one fake node (its kubelet is the stand-in), so other test files' objects
// stay out of it, and reaches the API server through a TCP proxy the test can cut, so the
// shared API server itself is never disturbed.
import { once } from "node:events";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import {
  type Bus,
  codecs,
  type EventMessage,
  type InspectReply,
  type InventoryMessage,
  type LogsReply,
} from "@crowsnest/shared";
import {
  createKubeClient,
  type KubeAccess,
  type KubeClient,
  loadKubeconfigFile,
} from "@crowsnest/shared/kubernetes";
import type { NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordMessages } from "../../../../../test/support/bus-fixtures.ts";
import { type KubeletStandIn, startKubeletStandIn } from "../../../../../test/support/kubelet-stand-in.ts";
import {
  connectKubernetesCluster,
  type FakeNode,
  type KubernetesCluster,
  type KubernetesObject,
  type TestNamespace,
  testKubeconfigPath,
  uniqueKubernetesName,
} from "../../../../../test/support/kubernetes-cluster.ts";
import { logTexts, requestLogsOverBus } from "../../../../../test/support/logs-rpc.ts";
import { eventually } from "../../../../../test/support/test-env.ts";
import { type KubeWatcherOnBus, startKubeWatcherOnBus } from "./fixtures/kube-watcher-on-bus.ts";
import { createKubernetesWatcher, type KubernetesWatcher } from "./kubernetes-watcher.ts";

/**
 * A TCP proxy to the API server whose connections the test can cut (and refuse new ones while
 * cut), or freeze: they stay open but carry nothing more, like a connection that died silently.
 */
async function startCuttableProxy(
  target: URL,
): Promise<{ url: URL; cut(): void; restore(): void; freeze(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(Number(target.port || 443), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.on("close", () => pairs.delete(pair));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: new URL(`https://127.0.0.1:${port}`),
    cut() {
      refusing = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      refusing = false;
    },
    freeze() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
      pairs.clear();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const kubeconfig = testKubeconfigPath();

describe.skipIf(kubeconfig === "")("Kubernetes watcher with a real API server and NATS", () => {
  const host = uniqueKubernetesName("k8s-watch");
  const events: EventMessage[] = [];
  const inventories: InventoryMessage[] = [];
  const undecodable: string[] = [];
  let cluster: KubernetesCluster;
  let namespace: TestNamespace;
  let node: FakeNode;
  let standIn: KubeletStandIn;
  let proxy: Awaited<ReturnType<typeof startCuttableProxy>>;
  let client: KubeClient;
  let access: KubeAccess;
  let bus: Bus;
  let nc: NatsConnection;
  let watcher: KubernetesWatcher;
  let harness: KubeWatcherOnBus | undefined;

  const podPath = (name: string) => `/api/v1/namespaces/${namespace.name}/pods/${name}`;
  const eventsOf = (externalId: string, action: string) =>
    events.filter((event) => event.actor.external_id === externalId && event.action === action);
  const latestInventory = () => {
    const newest = inventories.at(-1);
    return newest === undefined
      ? []
      : inventories
          .filter((inventory) => inventory.snapshot_id === newest.snapshot_id)
          .flatMap((inventory) => inventory.containers);
  };

  /** Acts as the kubelet: the pod's one container `app` running since `startedAt`. */
  async function setContainerStatus(pod: string, status: Record<string, unknown>): Promise<void> {
    await cluster.patch(`${podPath(pod)}/status`, {
      status: {
        phase: "Running",
        containerStatuses: [
          {
            name: "app",
            image: "registry.invalid/app:1",
            imageID: "sha256:feed",
            ready: false,
            restartCount: 0,
            ...status,
          },
        ],
      },
    });
  }

  async function podsOfDeployment(name: string, count: number): Promise<string[]> {
    return eventually(
      async () => {
        const list = await cluster.get<{ items: KubernetesObject[] }>(
          `/api/v1/namespaces/${namespace.name}/pods?labelSelector=app%3D${name}`,
        );
        const names = list.items
          .filter((pod) => (pod.spec as { nodeName?: string } | undefined)?.nodeName === node.name)
          .filter((pod) => pod.metadata?.deletionTimestamp === undefined)
          .map((pod) => pod.metadata?.name ?? "");
        return names.length === count ? names.sort() : undefined;
      },
      { timeoutMs: 30_000, what: `${count} scheduled pods of ${name}` },
    );
  }

  const requestLogs = (payload: Record<string, unknown>, onReply?: (reply: LogsReply) => void) =>
    requestLogsOverBus(nc, bus.subjects.rpc(host, "logs"), payload, {
      timeoutMs: 15_000,
      ...(onReply ? { onReply } : {}),
    });
  const texts = logTexts;

  beforeAll(async () => {
    cluster = connectKubernetesCluster(kubeconfig);
    namespace = await cluster.createNamespace("crowsnest-watcher");
    standIn = await startKubeletStandIn({ kubeconfigPath: kubeconfig });
    node = await cluster.registerFakeNode({
      name: uniqueKubernetesName("watcher-node"),
      kubeletPort: standIn.port,
    });
    access = await loadKubeconfigFile(kubeconfig);
    proxy = await startCuttableProxy(access.server);
    client = createKubeClient({ access: { ...access, server: proxy.url }, timeoutMs: 5000 });

    harness = await startKubeWatcherOnBus({
      host,
      client,
      nodeName: node.name,
      // Short, so the frozen-connection test does not wait long; the server then ends each
      // watch after 2 s, and every one is resumed.
      watchStallMs: 3000,
      requestTimeoutMs: 5000,
      backoff: { initialMs: 100, maxMs: 500 },
      logsMaxDurationMs: 3000,
      listTimeoutMs: 10_000,
      record: { events, inventories, undecodable },
    });
    ({ bus, nc, watcher } = harness);
  });

  afterAll(async () => {
    await harness?.stop();
    client?.close();
    await proxy?.close();
    await node?.remove();
    await namespace?.delete();
    await standIn?.stop();
  });

  let deploymentPods: string[] = [];

  it("publishes a Deployment's pods as scheduled and start events and in the inventory", async () => {
    await cluster.apply({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: namespace.name },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web", tier: "front" } },
          spec: {
            nodeSelector: { "kubernetes.io/hostname": node.name },
            containers: [
              {
                name: "app",
                image: "registry.invalid/app:1",
                resources: { limits: { memory: "64Mi", cpu: "250m" } },
                readinessProbe: { exec: { command: ["true"] } },
              },
            ],
          },
        },
      },
    });
    deploymentPods = await podsOfDeployment("web", 2);
    for (const pod of deploymentPods) {
      const scheduled = await eventually(() => eventsOf(`${namespace.name}/${pod}`, "scheduled")[0], {
        timeoutMs: 5000,
        what: `the scheduled event of ${pod}`,
      });
      expect(scheduled).toMatchObject({ host, runtime: "kubernetes", kind: "pod", synthesized: false });
      expect(scheduled.attributes).toMatchObject({ app: "web", "io.kubernetes.pod.node": node.name });
    }
    const [first = ""] = deploymentPods;
    const startedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    await setContainerStatus(first, {
      ready: true,
      state: { running: { startedAt: startedAt.toISOString() } },
    });
    const externalId = `${namespace.name}/${first}/app`;
    const start = await eventually(() => eventsOf(externalId, "start")[0], {
      timeoutMs: 5000,
      what: "the start event",
    });
    expect(start).toMatchObject({
      kind: "container",
      ts: startedAt.toISOString(),
      image: "registry.invalid/app:1",
    });
    await eventually(() => eventsOf(externalId, "ready")[0], { timeoutMs: 5000, what: "the ready event" });

    const entry = await eventually(
      () =>
        latestInventory().find(
          (container) => container.external_id === externalId && container.state === "running",
        ),
      { timeoutMs: 5000, what: "the running container in the inventory" },
    );
    expect(entry).toMatchObject({
      name: externalId,
      image_id: "sha256:feed",
      restart_count: 0,
      health: { status: "healthy" },
      limits: { mem_limit: 64 * 1024 * 1024, cpu_limit_cores: 0.25, pids_limit: null },
      labels: {
        app: "web",
        tier: "front",
        "io.kubernetes.pod.namespace": namespace.name,
        "io.kubernetes.container.name": "app",
      },
      kubernetes: {
        namespace: namespace.name,
        pod: first,
        container: "app",
        node: node.name,
        owner_kind: "ReplicaSet",
        ready: true,
      },
    });
    expect(
      latestInventory().filter((container) => container.kubernetes?.namespace === namespace.name),
    ).toHaveLength(2);
  });

  it("reports an OOM kill with a restart as one oom and one restart event", async () => {
    const [first = ""] = deploymentPods;
    const externalId = `${namespace.name}/${first}/app`;
    const previousStart = eventsOf(externalId, "start")[0]?.ts ?? "";
    const finishedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    await setContainerStatus(first, {
      ready: true,
      restartCount: 1,
      state: { running: { startedAt: new Date(finishedAt.getTime() + 1000).toISOString() } },
      lastState: {
        terminated: {
          exitCode: 137,
          reason: "OOMKilled",
          startedAt: previousStart,
          finishedAt: finishedAt.toISOString(),
        },
      },
    });
    await eventually(() => eventsOf(externalId, "restart")[0], {
      timeoutMs: 5000,
      what: "the restart event",
    });
    // Another status write of the same facts must not repeat them.
    await cluster.patch(`${podPath(first)}/status`, { status: { message: "touched" } });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(eventsOf(externalId, "oom")).toHaveLength(1);
    expect(eventsOf(externalId, "restart")).toHaveLength(1);
    expect(eventsOf(externalId, "die")).toMatchObject([
      { exit_code: 137, oom_killed: true, attributes: { reason: "OOMKilled" } },
    ]);
    expect(eventsOf(externalId, "oom")[0]?.ts).toBe(finishedAt.toISOString());
  });

  it("answers log requests through the API server: tail, timestamps, follow and previous", async () => {
    const [first = ""] = deploymentPods;
    const target = { namespace: namespace.name, pod: first, container: "app" };
    standIn.setLogLines(target, ["one", "two", "three"]);
    standIn.setLogLines({ ...target, previous: true }, ["before the OOM"]);

    const tail = await requestLogs({
      container: `${namespace.name}/${first}/app`,
      tail: 2,
      timestamps: true,
    });
    expect(texts(tail)).toEqual(["two", "three"]);
    expect(
      tail
        .flatMap((reply) => (reply.ok ? reply.lines : []))
        .every((line) => line.stream === "stdout" && line.ts !== null),
    ).toBe(true);
    expect(texts(await requestLogs({ container: `${first}/app`, previous: true }))).toEqual([
      "before the OOM",
    ]);
    const later = new Date(Date.now() + 3600_000).toISOString();
    expect(await requestLogs({ container: `${first}/app`, since: later })).toMatchObject([
      { ok: true, lines: [], done: true },
    ]);
    // The API server passes `since` on cut to seconds; the watcher filters the rest exactly.
    expect(standIn.requests.at(-1)?.query.get("sinceTime")).toBe(later.replace(/\.\d{3}Z$/, "Z"));

    const followed: string[] = [];
    let appended = false;
    const follow = requestLogs({ container: `${first}/app`, tail: 1, follow: true }, (reply) => {
      if (reply.ok) followed.push(...reply.lines.map((line) => line.text));
      if (followed.includes("three") && !appended) {
        appended = true;
        standIn.appendLogLines(target, ["four"]);
      }
    });
    await eventually(() => (followed.includes("four") ? true : undefined), {
      timeoutMs: 5000,
      what: "the followed line",
    });
    const replies = await follow;
    expect(replies.at(-1)).toMatchObject({ ok: true, done: true });
    expect(followed).toEqual(["three", "four"]);
    const previous = standIn.requests.find((request) => request.query.get("previous") === "true");
    expect(previous?.path).toBe(`/containerLogs/${namespace.name}/${first}/app`);

    const missing = await requestLogs({ container: `${namespace.name}/nope/app` });
    expect(missing).toMatchObject([{ ok: false, error: { code: "not_found" } }]);

    // A pod the watcher knows but the node's kubelet does not run (not admitted yet, or gone):
    // the kubelet answers 404, the API server passes it on, and that is not_found.
    const [, second = ""] = deploymentPods;
    const notOnKubelet = await requestLogs({ container: `${namespace.name}/${second}/app` });
    expect(notOnKubelet).toMatchObject([{ ok: false, error: { code: "not_found" } }]);
    expect(standIn.requests.at(-1)?.path).toBe(`/containerLogs/${namespace.name}/${second}/app`);
  });

  it("answers inspect requests with the container as the inventory describes it", async () => {
    const [first = ""] = deploymentPods;
    const reply = await nc.request(
      bus.subjects.rpc(host, "inspect"),
      JSON.stringify({ v: 1, container: `${namespace.name}/${first}/app` }),
      {
        timeout: 5000,
      },
    );
    const decoded = codecs.inspectReply.decode(reply.data);
    expect(decoded.ok).toBe(true);
    const answer = decoded.ok ? (decoded.value as InspectReply) : undefined;
    expect(answer).toMatchObject({
      ok: true,
      container: { external_id: `${namespace.name}/${first}/app`, restart_count: 1, state: "running" },
    });
  });

  it("resumes after the watch connection is cut, without duplicates or losses, and reports deletions and services", async () => {
    const [, second = ""] = deploymentPods;
    const externalId = `${namespace.name}/${second}/app`;
    proxy.cut();
    await eventually(() => (watcher.isConnected() ? undefined : true), {
      timeoutMs: 10_000,
      what: "the watcher to notice the cut",
    });
    // While the watcher is cut off: a container starts and becomes ready, a pod is deleted, a service appears.
    await setContainerStatus(second, {
      ready: true,
      state: { running: { startedAt: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString() } },
    });
    const [first = ""] = deploymentPods;
    await cluster.delete(podPath(first), { gracePeriodSeconds: 0 });
    await cluster.create(`/api/v1/namespaces/${namespace.name}/services`, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ port: 80 }] },
    });
    proxy.restore();
    await eventually(() => eventsOf(externalId, "ready")[0], {
      timeoutMs: 15_000,
      what: "the ready event missed while cut off",
    });
    await eventually(() => eventsOf(`${namespace.name}/${first}`, "delete")[0], {
      timeoutMs: 15_000,
      what: "the delete event",
    });
    await eventually(() => eventsOf(`${namespace.name}/web`, "add")[0], {
      timeoutMs: 15_000,
      what: "the service add event",
    });
    expect(eventsOf(externalId, "start")).toHaveLength(1);
    const replacement = (await podsOfDeployment("web", 2)).find((pod) => !deploymentPods.includes(pod)) ?? "";
    await eventually(() => eventsOf(`${namespace.name}/${replacement}`, "scheduled")[0], {
      timeoutMs: 5000,
      what: "the replacement pod",
    });

    await cluster.delete(`/api/v1/namespaces/${namespace.name}/services/web`);
    await eventually(() => eventsOf(`${namespace.name}/web`, "remove")[0], {
      timeoutMs: 5000,
      what: "the service remove event",
    });
    const ids = events.map((event) => event.event_id);
    expect(ids.filter((id, index) => ids.indexOf(id) !== index)).toEqual([]);
    expect(undecodable).toEqual([]);
  });

  it("restarts a watch whose connection went silent without closing, and loses nothing", async () => {
    const [, second = ""] = deploymentPods;
    const externalId = `${namespace.name}/${second}/app`;
    proxy.freeze();
    const running = eventsOf(externalId, "start")[0]?.ts ?? new Date().toISOString();
    await setContainerStatus(second, { ready: false, state: { running: { startedAt: running } } });
    const unready = await eventually(() => eventsOf(externalId, "unready")[0], {
      timeoutMs: 20_000,
      what: "the unready event after the frozen watch was replaced",
    });
    expect(unready.synthesized).toBe(false);
    const ids = events.map((event) => event.event_id);
    expect(ids.filter((id, index) => ids.indexOf(id) !== index)).toEqual([]);
  });

  it("works with only the permissions docs/kubernetes.md lists", async () => {
    const name = uniqueKubernetesName("crowsnest-watcher-rbac");
    const rbac = "/apis/rbac.authorization.k8s.io/v1";
    await cluster.create(`/api/v1/namespaces/${namespace.name}/serviceaccounts`, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name },
    });
    await cluster.create(`${rbac}/clusterroles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name },
      rules: [
        { apiGroups: [""], resources: ["pods", "nodes", "services"], verbs: ["list", "watch"] },
        { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
      ],
    });
    await cluster.create(`${rbac}/clusterrolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: namespace.name }],
    });
    const tokenRequest = await cluster.create<{ status: { token: string } }>(
      `/api/v1/namespaces/${namespace.name}/serviceaccounts/${name}/token`,
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600 } },
    );
    const limited = createKubeClient({
      access: {
        ...access,
        clientCertificate: undefined,
        clientKey: undefined,
        token: tokenRequest.status.token,
      },
      timeoutMs: 5000,
    });
    const problems: string[] = [];
    const limitedHost = `${host}-rbac`;
    const inventory: InventoryMessage[] = [];
    const subscription = recordMessages(
      nc,
      bus.subjects.inventory(limitedHost, "kubernetes"),
      codecs.inventory,
      inventory,
      undecodable,
    );
    await nc.flush();
    const limitedWatcher = createKubernetesWatcher({
      client: limited,
      js: bus.js,
      subjects: bus.subjects,
      host: limitedHost,
      logger: pino({ level: "warn" }, { write: (line: string) => problems.push(line) }),
      nodeName: node.name,
      inventoryIntervalMs: 60_000,
      maxPayloadBytes: () => bus.nc.info?.max_payload ?? 1024 * 1024,
      watchStallMs: 10_000,
      requestTimeoutMs: 5000,
      backoff: { initialMs: 100, maxMs: 500 },
    });
    try {
      limitedWatcher.start();
      const startup = await eventually(() => inventory.find((message) => message.reason === "startup"), {
        timeoutMs: 10_000,
        what: "the startup inventory of the watcher with the listed permissions",
      });
      expect(startup.containers.some((container) => container.kubernetes?.namespace === namespace.name)).toBe(
        true,
      );
      const [pod = ""] = (await podsOfDeployment("web", 2)).slice(-1);
      standIn.setLogLines({ namespace: namespace.name, pod, container: "app" }, ["allowed"]);
      const log = await limited.stream(`${podPath(pod)}/log`, { query: { container: "app" } });
      let text = "";
      for await (const chunk of log) text += String(chunk);
      expect(text).toBe("allowed\n");
      // Nodes and services are listed and watched too; a refusal would have been logged.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(problems).toEqual([]);
    } finally {
      subscription.unsubscribe();
      await limitedWatcher.stop();
      limited.close();
      await cluster.delete(`${rbac}/clusterrolebindings/${name}`);
      await cluster.delete(`${rbac}/clusterroles/${name}`);
    }
  });
});
