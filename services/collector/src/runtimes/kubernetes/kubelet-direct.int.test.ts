// The one-node collector reads its node's kubelet directly, as the DaemonSet of deploy/kubernetes
// runs it: with the identity that DaemonSet gets (its ServiceAccount bound to its ClusterRole,
// which has no `nodes/proxy`), the bearer token sent to the kubelet, and the kubelet's serving
// certificate checked against a CA of this test's own. The kubelet stand-in authorizes each
// request the way a kubelet in webhook mode does (TokenReview, then a SubjectAccessReview for
// `nodes/stats`), so the samples arriving prove the role is enough; a collector given another CA
// must refuse the kubelet and publish nothing.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ANY, codecs, createSubjects, type StatsMessage } from "@crowsnest/shared";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { deleteTestStreams, recordMessages } from "../../../../../test/support/bus-fixtures.ts";
import {
  type KubeletStandIn,
  type RecordedKubeletRequest,
  startKubeletStandIn,
} from "../../../../../test/support/kubelet-stand-in.ts";
import {
  connectKubernetesCluster,
  type FakeNode,
  type KubernetesCluster,
  type KubernetesObject,
  readKubeconfig,
  type TestNamespace,
  uniqueKubernetesName,
} from "../../../../../test/support/kubernetes-cluster.ts";
import { type ServiceProcess, startService } from "../../../../../test/support/service-process.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
} from "../../../../../test/support/test-env.ts";
import { summary } from "./fixtures/summary-fixtures.ts";

const MIB = 2 ** 20;
const kubeconfig = inject("kubeconfig");
const AGENT_RBAC = new URL("../../../../../deploy/kubernetes/agent-rbac.yaml", import.meta.url);

/** A CA and a serving certificate it signed for 127.0.0.1, made with openssl in `dir`. */
function makeCertificates(dir: string, name: string): { ca: string; cert: string; key: string } {
  const file = (suffix: string) => join(dir, `${name}-${suffix}`);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  openssl(
    "req",
    "-x509",
    ...ec,
    "-subj",
    `/CN=${name} CA`,
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.crt"),
    "-days",
    "2",
  );
  openssl(
    "req",
    "-new",
    ...ec,
    "-subj",
    "/CN=kubelet",
    "-keyout",
    file("kubelet.key"),
    "-out",
    file("kubelet.csr"),
  );
  writeFileSync(file("ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
  openssl(
    "x509",
    "-req",
    "-in",
    file("kubelet.csr"),
    "-CA",
    file("ca.crt"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    file("ext.cnf"),
    "-out",
    file("kubelet.crt"),
  );
  return { ca: file("ca.crt"), cert: file("kubelet.crt"), key: file("kubelet.key") };
}

describe.skipIf(!kubeconfig)("collector reading its node's kubelet directly", () => {
  const prefix = testSubjectPrefix();
  const received: StatsMessage[] = [];
  const undecodable: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), "crowsnest-kubelet-"));
  let cluster: KubernetesCluster;
  let standIn: KubeletStandIn;
  let node: FakeNode;
  let namespace: TestNamespace;
  let nc: NatsConnection;
  let agentKubeconfig = "";
  let token = "";
  let kubeletCa = "";
  let otherCa = "";
  let roleName = "";
  const collectors: ServiceProcess[] = [];
  /** What the kubelet's authorizer decided, per request. */
  const decisions: { user: string; allowed: boolean; resource: string }[] = [];

  /**
   * A kubelet in webhook mode: the bearer token through TokenReview, then a SubjectAccessReview of
   * `get nodes/stats` (pkg/kubelet/server/auth.go maps /stats/* to that subresource).
   */
  async function authorizeLikeKubelet(request: RecordedKubeletRequest): Promise<number | undefined> {
    const bearer = /^Bearer (.+)$/.exec(request.authorization ?? "")?.[1];
    if (bearer === undefined) return 401;
    const review = await cluster.create<{
      status: { authenticated?: boolean; user?: { username: string; groups?: string[] } };
    }>("/apis/authentication.k8s.io/v1/tokenreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token: bearer },
    });
    const user = review.status.user;
    if (review.status.authenticated !== true || user === undefined) return 401;
    const subresource = request.path.startsWith("/stats") ? "stats" : "proxy";
    const access = await cluster.create<{ status: { allowed: boolean } }>(
      "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: user.username,
          groups: user.groups ?? [],
          resourceAttributes: { verb: "get", resource: "nodes", subresource, name: node.name },
        },
      },
    );
    decisions.push({ user: user.username, allowed: access.status.allowed, resource: `nodes/${subresource}` });
    return access.status.allowed ? undefined : 403;
  }

  function startCollector(caFile: string): ServiceProcess {
    const collector = startService("collector", {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_RUNTIME: "kubernetes",
      CROWSNEST_KUBECONFIG: agentKubeconfig,
      CROWSNEST_KUBERNETES_NODE_NAME: node.name,
      CROWSNEST_KUBELET_HOST: "127.0.0.1",
      CROWSNEST_KUBELET_PORT: String(standIn.port),
      CROWSNEST_KUBELET_CA_FILE: caFile,
      CROWSNEST_COLLECT_INTERVAL_MS: "1000",
      CROWSNEST_LOG_LEVEL: "info",
    });
    collectors.push(collector);
    return collector;
  }

  beforeAll(async () => {
    const certificates = makeCertificates(dir, "kubelet");
    kubeletCa = certificates.ca;
    otherCa = makeCertificates(dir, "other").ca;
    cluster = connectKubernetesCluster(kubeconfig);
    standIn = await startKubeletStandIn({
      kubeconfigPath: kubeconfig,
      tls: { cert: readFileSync(certificates.cert), key: readFileSync(certificates.key) },
      authorize: authorizeLikeKubelet,
    });
    // Its kubelet port is not the stand-in's: anything that came through the API server's node
    // proxy would not reach the stand-in at all.
    node = await cluster.registerFakeNode({ name: uniqueKubernetesName("cn-kubelet"), kubeletPort: 1 });
    namespace = await cluster.createNamespace("cn-kubelet");

    // The DaemonSet's identity: deploy/kubernetes's ServiceAccount and ClusterRole, under names of
    // this test's own.
    const manifests = parseAllDocuments(readFileSync(AGENT_RBAC, "utf8")).map(
      (document) => document.toJS() as KubernetesObject & Record<string, unknown>,
    );
    roleName = uniqueKubernetesName("cn-kubelet-agent");
    for (const object of manifests) {
      const copy = structuredClone(object);
      if (copy.metadata?.namespace !== undefined) copy.metadata.namespace = namespace.name;
      if (copy.kind !== "ServiceAccount" && copy.metadata) copy.metadata.name = roleName;
      if (copy.kind === "ClusterRoleBinding") {
        (copy.roleRef as { name: string }).name = roleName;
        for (const subject of copy.subjects as { namespace: string }[]) subject.namespace = namespace.name;
      }
      await cluster.apply(copy);
    }
    const tokenRequest = await cluster.create<{ status: { token: string } }>(
      `/api/v1/namespaces/${namespace.name}/serviceaccounts/crowsnest-agent/token`,
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
    );
    token = tokenRequest.status.token;
    const admin = readKubeconfig(kubeconfig);
    agentKubeconfig = join(dir, "agent.kubeconfig");
    writeFileSync(
      agentKubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        "current-context": "agent",
        clusters: [
          {
            name: "test",
            cluster: { server: admin.server, "certificate-authority-data": admin.ca?.toString("base64") },
          },
        ],
        users: [{ name: "agent", user: { token } }],
        contexts: [{ name: "agent", context: { cluster: "test", user: "agent" } }],
      }),
    );

    const pod = await cluster.create(`/api/v1/namespaces/${namespace.name}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web" },
      spec: {
        nodeName: node.name,
        automountServiceAccountToken: false,
        containers: [
          { name: "app", image: "registry.invalid/app:1", resources: { limits: { memory: "256Mi" } } },
        ],
      },
    });
    const time = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(".000Z", "Z");
    const body = summary({ time, usageNanoCores: 1e9, availableBytes: 2 ** 32, workingSetBytes: 2 ** 31 }, [
      {
        namespace: namespace.name,
        name: "web",
        uid: pod.metadata?.uid ?? "",
        time,
        containers: [{ name: "app", time, usageNanoCores: 2.5e8, workingSetBytes: 64 * MIB }],
      },
    ]);
    (body.node as Record<string, unknown>).nodeName = node.name;
    standIn.setSummary(body);

    nc = await connectTestNats();
    recordMessages(
      nc,
      createSubjects(prefix).stats(node.name, "kubernetes", ANY),
      codecs.stats,
      received,
      undecodable,
    );
    await nc.flush();
  });

  afterAll(async () => {
    const exitCodes = await Promise.all(collectors.map((collector) => collector.stop()));
    if (roleName !== "") {
      const rbac = "/apis/rbac.authorization.k8s.io/v1";
      await cluster.delete(`${rbac}/clusterrolebindings/${roleName}`);
      await cluster.delete(`${rbac}/clusterroles/${roleName}`);
    }
    await namespace?.delete();
    await node?.remove();
    await standIn?.stop();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    rmSync(dir, { recursive: true, force: true });
    expect(exitCodes.every((code) => code === 0)).toBe(true);
  });

  it("samples from the kubelet with the DaemonSet's token, allowed by nodes/stats alone", async () => {
    const collector = startCollector(kubeletCa);
    const app = await eventually(() => received.find((message) => message.container.name.endsWith("/app")), {
      timeoutMs: 20_000,
      what: "a sample of the app container",
    });
    await collector.stop();

    expect(app).toMatchObject({
      host: node.name,
      source: "kubelet_summary",
      cpu_percent: 25,
      mem_used: 64 * MIB,
      mem_limit: 256 * MIB,
    });
    const fromCollector = standIn.requests.filter((request) => request.path === "/stats/summary");
    expect(fromCollector.length).toBeGreaterThan(0);
    for (const request of fromCollector) expect(request.authorization).toBe(`Bearer ${token}`);
    expect(decisions.length).toBeGreaterThan(0);
    expect(decisions).toContainEqual({
      user: `system:serviceaccount:${namespace.name}:crowsnest-agent`,
      allowed: true,
      resource: "nodes/stats",
    });
    expect(decisions.every((decision) => decision.allowed)).toBe(true);
    expect(standIn.tlsFailures).toEqual([]);
    expect(undecodable).toEqual([]);
  });

  it("refuses a kubelet whose certificate is not from the configured CA, and publishes nothing", async () => {
    const requestsBefore = standIn.requests.length;
    const samplesBefore = received.length;
    const collector = startCollector(otherCa);
    const warning = await collector.waitForLog((record) =>
      record.msg.startsWith("some nodes could not be sampled"),
    );
    expect(warning).toMatchObject({ level: "warn", example_node: node.name });
    expect(String(warning.example_error)).toMatch(/certificate/i);
    await eventually(() => (standIn.tlsFailures.length > 0 ? true : undefined), {
      timeoutMs: 10_000,
      what: "the stand-in to see the handshake refused",
    });
    // Nothing reached the kubelet over HTTP: the token was never sent.
    expect(standIn.requests.length).toBe(requestsBefore);
    expect(received.length).toBe(samplesBefore);
  });
});
