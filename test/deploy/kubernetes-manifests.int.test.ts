// deploy/kubernetes/ is accepted by a real API server (server-side apply, dry run: nothing is
// stored), sets only variables the services read, and grants the agent exactly the access the
// watcher and collector use; each workload connects to NATS as its own user from the Secrets
// `pnpm nats-auth --kubernetes` writes, and an agent with its node's user cannot publish another
// node's subjects; with kubectl installed, README.md's commands work as written on a cluster
// without the namespace.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  authorizationBlock,
  commonConfigFrom,
  commonEnv,
  createSubjects,
  kubernetesSecrets,
  natsUsers,
  openBus,
  parseEnv,
} from "@crowsnest/shared";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { SERVICE_ENV_SPECS } from "../support/config-reference.ts";
import {
  connectKubernetesCluster,
  type KubernetesCluster,
  type KubernetesObject,
  type TestNamespace,
  uniqueKubernetesName,
} from "../support/kubernetes-cluster.ts";
import { startNatsServers } from "../support/nats-servers.ts";

const silentLogger = pino({ level: "silent" });

const DEPLOY_DIR = new URL("../../deploy/kubernetes/", import.meta.url);
const NAMESPACE = "crowsnest";

const manifestFiles = readdirSync(DEPLOY_DIR)
  .filter((file) => file.endsWith(".yaml") && file !== "kustomization.yaml")
  .sort();

const objects: KubernetesObject[] = manifestFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(new URL(file, DEPLOY_DIR), "utf8"))
    .map((document) => document.toJS() as KubernetesObject | null)
    .filter((object) => object !== null),
);

interface EnvVarSource {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string };
  };
}
interface ContainerSpec {
  name: string;
  image: string;
  command: string[];
  env?: EnvVarSource[];
  envFrom?: { configMapRef?: { name: string } }[];
  volumeMounts?: { name: string; mountPath: string; subPathExpr?: string; readOnly?: boolean }[];
}
interface PodTemplateSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  containers: ContainerSpec[];
  volumes?: { name: string; secret?: { secretName: string } }[];
}
interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

function find(kind: string, name: string): KubernetesObject {
  const object = objects.find((candidate) => candidate.kind === kind && candidate.metadata?.name === name);
  if (object === undefined) throw new Error(`deploy/kubernetes has no ${kind} ${name}`);
  return object;
}

function podSpecOf(kind: string, name: string): PodTemplateSpec {
  return (find(kind, name) as { spec: { template: { spec: PodTemplateSpec } } }).spec.template.spec;
}

/** `group/resource verb` for every permission a rule list grants. */
function permissions(rules: PolicyRule[]): string[] {
  return rules
    .flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.flatMap((resource) =>
          rule.verbs.map((verb) => `${group || "core"}/${resource} ${verb}`),
        ),
      ),
    )
    .sort();
}

const AGENT_PERMISSIONS = [
  "core/pods get",
  "core/pods list",
  "core/pods watch",
  "core/pods/log get",
  "core/nodes get",
  "core/nodes list",
  "core/nodes watch",
  "core/nodes/stats get",
  "core/services list",
  "core/services watch",
  "metrics.k8s.io/pods list",
].sort();

/** The agents run bundled (docker/bundle-agents.ts); the store and api as tsc compiles them. */
const AGENT_SERVICES: ReadonlySet<string> = new Set(["collector", "watcher"]);

const WORKLOADS = [
  { kind: "DaemonSet", name: "crowsnest-agent", services: ["watcher", "collector"] },
  { kind: "Deployment", name: "crowsnest-store", services: ["store"] },
  { kind: "Deployment", name: "crowsnest-api", services: ["api"] },
] as const;

describe("deploy/kubernetes", () => {
  it("lists every manifest in its kustomization", () => {
    const kustomization = parse(readFileSync(new URL("kustomization.yaml", DEPLOY_DIR), "utf8")) as {
      resources: string[];
    };
    expect([...kustomization.resources].sort()).toEqual(manifestFiles);
  });

  it("puts every namespaced object into the crowsnest namespace", () => {
    const clusterScoped = ["Namespace", "ClusterRole", "ClusterRoleBinding"];
    for (const object of objects.filter((candidate) => !clusterScoped.includes(candidate.kind ?? ""))) {
      expect(object.metadata?.namespace, `${object.kind} ${object.metadata?.name}`).toBe(NAMESPACE);
    }
  });

  it("grants the agent exactly what the watcher and collector use", () => {
    const role = find("ClusterRole", "crowsnest-agent") as { rules: PolicyRule[] };
    expect(permissions(role.rules)).toEqual(AGENT_PERMISSIONS);
    const binding = find("ClusterRoleBinding", "crowsnest-agent") as {
      roleRef: { kind: string; name: string };
      subjects: { kind: string; name: string; namespace: string }[];
    };
    expect(binding.roleRef).toMatchObject({ kind: "ClusterRole", name: "crowsnest-agent" });
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: "crowsnest-agent", namespace: NAMESPACE },
    ]);
    expect(podSpecOf("DaemonSet", "crowsnest-agent").serviceAccountName).toBe("crowsnest-agent");
    // The store and the api never talk to the API server.
    expect(podSpecOf("Deployment", "crowsnest-store").automountServiceAccountToken).toBe(false);
    expect(podSpecOf("Deployment", "crowsnest-api").automountServiceAccountToken).toBe(false);
  });

  it("runs the watcher and collector of each node in Kubernetes mode for that node's pods", () => {
    const containers = podSpecOf("DaemonSet", "crowsnest-agent").containers;
    expect(containers.map((container) => container.name).sort()).toEqual(["collector", "watcher"]);
    for (const container of containers) {
      const env = new Map((container.env ?? []).map((variable) => [variable.name, variable]));
      expect(env.get("CROWSNEST_RUNTIME")?.value).toBe("kubernetes");
      expect(env.get("CROWSNEST_KUBERNETES_NODE_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe("spec.nodeName");
    }
    // The collector reads its own node's kubelet directly (nodes/stats), not through the API
    // server's node proxy (nodes/proxy).
    const collector = containers.find((container) => container.name === "collector");
    const kubeletHost = collector?.env?.find((variable) => variable.name === "CROWSNEST_KUBELET_HOST");
    expect(kubeletHost?.valueFrom?.fieldRef?.fieldPath).toBe("status.hostIP");
  });

  it.each(WORKLOADS)(
    "runs the compose image and sets only variables the services read: $name",
    (workload) => {
      const compose = readFileSync(new URL("../../docker-compose.yml", import.meta.url), "utf8");
      const composeImage = /image: \$\{CROWSNEST_IMAGE:-([^}]+)\}/.exec(compose)?.[1];
      const config = find("ConfigMap", "crowsnest-config") as { data: Record<string, string> };
      const secret = find("Secret", "crowsnest-credentials") as { stringData: Record<string, string> };
      const containers = podSpecOf(workload.kind, workload.name).containers;
      expect(containers).toHaveLength(workload.services.length);
      for (const service of workload.services) {
        const container = containers.find((candidate) =>
          candidate.command.includes(
            `services/${service}/${AGENT_SERVICES.has(service) ? "bundle" : "dist"}/main.js`,
          ),
        );
        if (container === undefined) throw new Error(`${workload.name} does not run the ${service}`);
        expect(container.image).toBe(composeImage);
        const spec = SERVICE_ENV_SPECS[service];
        const fromConfigMap = (container.envFrom ?? []).flatMap((source) =>
          source.configMapRef?.name === "crowsnest-config" ? Object.keys(config.data) : [],
        );
        const names = [...fromConfigMap, ...(container.env ?? []).map((variable) => variable.name)];
        expect(names.filter((name) => !(name in spec))).toEqual([]);
        for (const variable of container.env ?? []) {
          const secretKey = variable.valueFrom?.secretKeyRef;
          if (secretKey === undefined) continue;
          expect(secretKey.name).toBe("crowsnest-credentials");
          expect(Object.keys(secret.stringData)).toContain(secretKey.key);
        }
      }
    },
  );
});

/** Secret objects as `pnpm nats-auth --kubernetes` writes them. */
interface SecretObject extends KubernetesObject {
  stringData: Record<string, string>;
}

const NODES = ["worker-1", "ip-10-0-0-7.ec2.internal"];
const natsSubjects = createSubjects("crowsnest");
const generatedUsers = natsUsers({ subjects: natsSubjects, hosts: NODES });
const generatedSecrets = parseAllDocuments(kubernetesSecrets(generatedUsers)).map(
  (document) => document.toJS() as SecretObject,
);

/**
 * What a container of `workload` reads as CROWSNEST_NATS_CREDENTIALS_FILE on `node`, as the
 * kubelet resolves it: `$(VAR)` in the value and in a mount's subPathExpr expanded (from the
 * container's variables; a variable's value only from those listed before it), then looked up in
 * the Secret mounted there: a whole Secret mounted as a directory, or one key of it mounted as
 * the file itself (subPathExpr). `keysVisible`: the Secret's keys the container can see.
 */
function credentialsOnNode(workload: (typeof WORKLOADS)[number], container: ContainerSpec, node: string) {
  const pod = podSpecOf(workload.kind, workload.name);
  const env = container.env ?? [];
  const expand = (text: string, before: number) =>
    text.replace(/\$\((\w+)\)/g, (_, name: string) => {
      const earlier = env.slice(0, before).find((variable) => variable.name === name);
      if (earlier?.valueFrom?.fieldRef?.fieldPath === "spec.nodeName") return node;
      throw new Error(`${container.name}: $(${name}) is not a variable of the node name listed before it`);
    });
  const index = env.findIndex((variable) => variable.name === "CROWSNEST_NATS_CREDENTIALS_FILE");
  const value = env[index]?.value;
  if (value === undefined) throw new Error(`${container.name} sets no CROWSNEST_NATS_CREDENTIALS_FILE`);
  const path = expand(value, index);
  const mount = (container.volumeMounts ?? []).find((each) =>
    each.subPathExpr === undefined ? path.startsWith(`${each.mountPath}/`) : path === each.mountPath,
  );
  const secretName = pod.volumes?.find((volume) => volume.name === mount?.name)?.secret?.secretName;
  const secret = generatedSecrets.find((each) => each.metadata?.name === secretName);
  if (mount === undefined || secret === undefined) {
    throw new Error(`${container.name}: ${path} is not in a Secret pnpm nats-auth --kubernetes writes`);
  }
  expect(mount.readOnly).toBe(true);
  const key =
    mount.subPathExpr === undefined
      ? path.slice(mount.mountPath.length + 1)
      : expand(mount.subPathExpr, env.length);
  const keysVisible = mount.subPathExpr === undefined ? Object.keys(secret.stringData) : [key];
  return { path, secretName, text: secret.stringData[key], keysVisible };
}

describe("deploy/kubernetes's NATS users", () => {
  it.each(WORKLOADS)("gives $name's containers their own user from the generated Secrets", (workload) => {
    for (const container of podSpecOf(workload.kind, workload.name).containers) {
      for (const node of NODES) {
        const { text, secretName } = credentialsOnNode(workload, container, node);
        const user = /^CROWSNEST_NATS_USER=(.*)$/m.exec(text ?? "")?.[1];
        const expected =
          workload.name === "crowsnest-agent"
            ? generatedUsers.find((each) => each.host === node)?.user
            : `crowsnest-${workload.services[0]}`;
        expect(user, `${container.name} on ${node} (Secret ${secretName})`).toBe(expected);
        if (workload.name === "crowsnest-agent") {
          // Its own node's password only: another node's is not in its filesystem.
          expect(credentialsOnNode(workload, container, node).keysVisible).toEqual([`${node}.env`]);
        }
      }
    }
  });

  it("confines an agent to its own node's subjects, with the credentials file its pod reads", async () => {
    const servers = await startNatsServers({ count: 1, extraConfig: authorizationBlock(generatedUsers) });
    const dir = mkdtempSync(join(tmpdir(), "crowsnest-k8s-nats-"));
    try {
      const agent = WORKLOADS[0];
      const collector = podSpecOf(agent.kind, agent.name).containers.find(
        (each) => each.name === "collector",
      );
      if (collector === undefined) throw new Error("no collector in the DaemonSet");
      const [own, other] = NODES as [string, string];
      const file = join(dir, "node.env");
      writeFileSync(file, credentialsOnNode(agent, collector, own).text ?? "");
      const config = commonConfigFrom(
        parseEnv(commonEnv, {
          CROWSNEST_NATS_URL: servers.urls.join(","),
          CROWSNEST_NATS_CREDENTIALS_FILE: file,
        }),
      );
      const bus = await openBus({ config, service: "collector", host: own, logger: silentLogger });
      try {
        const body = new TextEncoder().encode("{}");
        const ack = await bus.js.publish(natsSubjects.stats(own, "kubernetes", "web"), body);
        expect(ack.seq).toBeGreaterThan(0);
        for (const forged of [
          natsSubjects.stats(other, "kubernetes", "web"),
          natsSubjects.event(other, "kubernetes", "container", "die"),
          natsSubjects.alert(own, "web"),
        ]) {
          await expect(bus.js.publish(forged, body)).rejects.toThrow(
            `Permissions Violation for Publish to "${forged}"`,
          );
        }
      } finally {
        await bus.drain();
      }
    } finally {
      await servers.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!inject("kubeconfig"))("deploy/kubernetes on a real API server (dry run)", () => {
  let cluster: KubernetesCluster;
  let namespace: TestNamespace;

  // Into a namespace of the test's own: a dry run is checked against the namespace's existence,
  // and another run of this test (or a real deployment) may own `crowsnest`.
  function retargeted(object: KubernetesObject): KubernetesObject {
    const copy = structuredClone(object);
    if (copy.kind === "Namespace" && copy.metadata) copy.metadata.name = namespace.name;
    if (copy.metadata?.namespace === NAMESPACE) copy.metadata.namespace = namespace.name;
    for (const subject of (copy.subjects ?? []) as { namespace?: string }[]) {
      if (subject.namespace === NAMESPACE) subject.namespace = namespace.name;
    }
    return copy;
  }

  beforeAll(async () => {
    cluster = connectKubernetesCluster();
    namespace = await cluster.createNamespace("crowsnest-deploy");
  });

  afterAll(async () => {
    await namespace?.delete();
  });

  it.each(objects.map((object) => [`${object.kind} ${object.metadata?.name}`, object] as const))(
    "accepts %s",
    async (_name, object) => {
      const applied = await cluster.apply(retargeted(object), { dryRun: true });

      expect(applied.kind).toBe(object.kind);
      expect(applied.metadata?.uid).toEqual(expect.any(String));
      // A dry run stores nothing (checked where the test owns the namespace).
      if (object.metadata?.namespace !== undefined) {
        const stored = await cluster.request("GET", await cluster.pathOf(retargeted(object)));
        expect(stored.status).toBe(404);
      }
    },
  );

  it.each(generatedSecrets.map((secret) => [secret.metadata?.name, secret] as const))(
    "accepts the generated Secret %s",
    async (_name, secret) => {
      const applied = await cluster.apply(retargeted(secret), { dryRun: true });
      expect(applied.kind).toBe("Secret");
    },
  );

  it("lets the agent's service account do what it needs and nothing more", async () => {
    // Applied for real under names of the test's own, then asked of the authorizer.
    const roleName = `${namespace.name}-agent`;
    const role = structuredClone(find("ClusterRole", "crowsnest-agent"));
    const binding = structuredClone(find("ClusterRoleBinding", "crowsnest-agent")) as KubernetesObject & {
      roleRef: { name: string };
      subjects: { namespace: string }[];
    };
    if (role.metadata) role.metadata.name = roleName;
    if (binding.metadata) binding.metadata.name = roleName;
    binding.roleRef.name = roleName;
    for (const subject of binding.subjects) subject.namespace = namespace.name;
    await cluster.apply(retargeted(find("ServiceAccount", "crowsnest-agent")));
    await cluster.apply(role);
    await cluster.apply(binding);
    try {
      const user = `system:serviceaccount:${namespace.name}:crowsnest-agent`;
      const allowed = async (verb: string, resource: string, subresource = "", group = "", name = "") => {
        const review = await cluster.create<{ status: { allowed: boolean } }>(
          "/apis/authorization.k8s.io/v1/subjectaccessreviews",
          {
            apiVersion: "authorization.k8s.io/v1",
            kind: "SubjectAccessReview",
            spec: {
              user,
              groups: ["system:serviceaccounts"],
              resourceAttributes: { verb, resource, subresource, group, name },
            },
          },
        );
        return review.status.allowed;
      };
      // RBAC answers as soon as its cache has the binding.
      await expect.poll(() => allowed("watch", "pods"), { timeout: 10_000 }).toBe(true);
      expect(await allowed("list", "pods")).toBe(true);
      expect(await allowed("get", "pods")).toBe(true);
      expect(await allowed("get", "pods", "log")).toBe(true);
      // What a kubelet asks the API server before serving /stats/summary to the collector.
      expect(await allowed("get", "nodes", "stats", "", "worker-1")).toBe(true);
      // The node proxy reaches every kubelet endpoint of every node (/exec, /attach,
      // /portForward, /configz, /pods, logs): not the agent's.
      for (const verb of ["get", "create", "update", "patch", "delete"]) {
        expect(await allowed(verb, "nodes", "proxy"), `${verb} nodes/proxy`).toBe(false);
        expect(await allowed(verb, "nodes", "proxy", "", "worker-1"), `${verb} nodes/proxy of a node`).toBe(
          false,
        );
      }
      expect(await allowed("create", "nodes", "stats")).toBe(false);
      expect(await allowed("watch", "services")).toBe(true);
      expect(await allowed("list", "pods", "", "metrics.k8s.io")).toBe(true);
      expect(await allowed("get", "secrets")).toBe(false);
      expect(await allowed("list", "configmaps")).toBe(false);
      expect(await allowed("delete", "pods")).toBe(false);
      expect(await allowed("create", "pods", "exec")).toBe(false);
      expect(await allowed("patch", "nodes")).toBe(false);
    } finally {
      await cluster.delete(await cluster.pathOf(binding));
      await cluster.delete(await cluster.pathOf(role));
    }
  });

  it("keeps the agent's rules as written (the server normalizes nothing away)", async () => {
    const applied = (await cluster.apply(retargeted(find("ClusterRole", "crowsnest-agent")), {
      dryRun: true,
    })) as { rules: PolicyRule[] };
    expect(permissions(applied.rules)).toEqual(AGENT_PERMISSIONS);
  });
});

/** Not installed by test/infra (Debian has no kubectl); where it is, the README's commands are run. */
const hasKubectl = spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status === 0;

describe.skipIf(!inject("kubeconfig") || !hasKubectl)("README.md's steps with kubectl", () => {
  let cluster: KubernetesCluster;
  const dir = mkdtempSync(join(tmpdir(), "crowsnest-deploy-"));
  // The README's `crowsnest` namespace under a name of the test's own, labelled so that
  // global-setup sweeps it should this run die before deleting it.
  const name = uniqueKubernetesName("crowsnest-docs");

  beforeAll(() => {
    cluster = connectKubernetesCluster();
    mkdirSync(join(dir, "deploy", "kubernetes"), { recursive: true });
    for (const file of readdirSync(DEPLOY_DIR)) {
      let text = readFileSync(new URL(file, DEPLOY_DIR), "utf8").replaceAll(
        `namespace: ${NAMESPACE}`,
        `namespace: ${name}`,
      );
      if (file === "namespace.yaml") {
        text = text
          .replace(`name: ${NAMESPACE}`, `name: ${name}`)
          .replace("labels:", 'labels:\n    crowsnest.test/namespace: "true"');
      }
      writeFileSync(join(dir, "deploy", "kubernetes", file), text);
    }
  });

  afterAll(async () => {
    await cluster?.delete(`/api/v1/namespaces/${name}`);
    rmSync(dir, { recursive: true, force: true });
  });

  function kubectl(command: string): { status: number | null; output: string } {
    const [program, ...args] = command.split(/\s+/);
    expect(program).toBe("kubectl");
    const run = spawnSync("kubectl", args, {
      cwd: dir,
      env: { ...process.env, KUBECONFIG: inject("kubeconfig") },
      encoding: "utf8",
      timeout: 60_000,
    });
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  }

  it("creates the namespace first, after which the server-side dry run of every object passes", async () => {
    const readme = readFileSync(new URL("README.md", DEPLOY_DIR), "utf8");
    const commands = [...readme.matchAll(/^ {3}(kubectl apply .+)$/gm)].map((match) => match[1] ?? "");
    const createNamespace = "kubectl apply -f deploy/kubernetes/namespace.yaml";
    const dryRun = "kubectl apply --dry-run=server -k deploy/kubernetes";
    // The README says these, in this order (namespace, the NATS users' Secrets, dry run, apply).
    expect(commands).toEqual([
      createNamespace,
      "kubectl apply -f ./nats-auth/nats-credentials.yaml",
      dryRun,
      "kubectl apply -k deploy/kubernetes",
    ]);

    // Without the namespace, what the README warns about: the dry run does not create it.
    const before = kubectl(dryRun);
    expect(before.status).not.toBe(0);
    expect(before.output).toContain(`namespaces "${name}" not found`);

    const created = kubectl(createNamespace);
    expect(created.output).toContain(`namespace/${name} created`);
    expect(created.status).toBe(0);
    const checked = kubectl(dryRun);
    expect(checked.output).not.toContain("not found");
    expect(checked.status).toBe(0);
    expect(checked.output).toContain("daemonset.apps/crowsnest-agent created (server dry run)");
    // The dry run stored nothing.
    const daemonSet = await cluster.request(
      "GET",
      `/apis/apps/v1/namespaces/${name}/daemonsets/crowsnest-agent`,
    );
    expect(daemonSet.status).toBe(404);
  });
});
