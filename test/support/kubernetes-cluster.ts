// Admin access to the tests' Kubernetes API server (test/infra/kubernetes/, or k3s started by
// global-setup): a small HTTPS client over the admin kubeconfig, a unique namespace per test
// file, and fake nodes whose kubelet is a stand-in (kubelet-stand-in.ts). Written for tests
// only and independent of the product's client, so a bug there cannot hide behind the fixture.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import { dirname, isAbsolute, join } from "node:path";
import { inject } from "vitest";
import { parse as parseYaml } from "yaml";

/** The cluster's address and the admin's credentials, read from a kubeconfig file. */
export interface KubeconfigCredentials {
  readonly server: string;
  readonly ca: Buffer | undefined;
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
  readonly token: string | undefined;
}

export interface KubernetesResponse {
  readonly status: number;
  readonly text: string;
}

/** A Kubernetes object as the API returns it; tests read the fields they need. */
export interface KubernetesObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

export type PatchType = "merge" | "strategic" | "json";

export interface TestNamespace {
  readonly name: string;
  /** Force-deletes its pods (no kubelet would confirm a graceful delete) and the namespace. */
  delete(): Promise<void>;
}

export interface FakeNodeOptions {
  readonly name: string;
  /** Where the API server reaches this node's kubelet: the stand-in's port on localhost. */
  readonly kubeletPort: number;
  readonly labels?: Record<string, string>;
}

export interface FakeNode {
  readonly name: string;
  /** Force-deletes the pods bound to the node, then the node. */
  remove(): Promise<void>;
}

export interface KubernetesCluster {
  readonly kubeconfigPath: string;
  readonly server: string;
  /** Any request; `body` is sent as JSON unless it is a string. Never throws on a status. */
  request(method: string, path: string, body?: unknown, contentType?: string): Promise<KubernetesResponse>;
  /**
   * A GET whose body is read as it arrives (a watch, `follow=true` logs); the caller destroys
   * the response when done.
   */
  stream(path: string): Promise<IncomingMessage>;
  /** GET, throwing on anything but 2xx. */
  get<T = KubernetesObject>(path: string): Promise<T>;
  /** POST to a collection path, e.g. `/api/v1/namespaces/ns/pods`. */
  create<T = KubernetesObject>(collectionPath: string, object: KubernetesObject): Promise<T>;
  /** Server-side apply of one object to the path derived from its apiVersion and kind. */
  apply<T = KubernetesObject>(object: KubernetesObject, options?: { dryRun?: boolean }): Promise<T>;
  /** PATCH, e.g. `${podPath}/status` with `{status: {...}}` to act as the kubelet. */
  patch<T = KubernetesObject>(path: string, patch: unknown, type?: PatchType): Promise<T>;
  /** DELETE; a missing object is not an error. */
  delete(path: string, options?: { gracePeriodSeconds?: number }): Promise<void>;
  /** The path of an object (or, without a name, its collection) from apiVersion and kind. */
  pathOf(object: KubernetesObject): Promise<string>;
  createNamespace(prefix?: string): Promise<TestNamespace>;
  registerFakeNode(options: FakeNodeOptions): Promise<FakeNode>;
  /**
   * Deletes test namespaces and fake nodes older than `olderThanMs`: what runs that crashed
   * left behind (a fake node stays Ready forever; nothing evicts from it). Returns their names.
   */
  sweepLeftovers(olderThanMs: number): Promise<string[]>;
}

export class KubernetesRequestError extends Error {
  readonly status: number;
  constructor(method: string, path: string, response: KubernetesResponse) {
    super(`${method} ${path} answered ${response.status}: ${response.text.slice(0, 500)}`);
    this.name = "KubernetesRequestError";
    this.status = response.status;
  }
}

const FIELD_MANAGER = "crowsnest-tests";
const NAMESPACE_LABEL = "crowsnest.test/namespace";
const FAKE_NODE_LABEL = "crowsnest.test/fake-node";

/** The kubeconfig global-setup found (empty when there is no cluster: tests skip). */
export function testKubeconfigPath(): string {
  return inject("kubeconfig");
}

/** The name with a suffix no other test run uses; valid as a namespace or node name. */
export function uniqueKubernetesName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

type YamlMap = Record<string, unknown>;

function isMap(value: unknown): value is YamlMap {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function namedEntry(list: unknown, name: unknown, field: string): YamlMap {
  const entry = Array.isArray(list) ? list.find((item) => isMap(item) && item.name === name) : undefined;
  if (!isMap(entry) || !isMap(entry[field])) throw new Error(`kubeconfig has no ${field} named ${name}`);
  return entry[field];
}

/** Reads inline `*-data` fields or files (relative to the kubeconfig) — both forms are common. */
export function readKubeconfig(path: string): KubeconfigCredentials {
  const config: unknown = parseYaml(readFileSync(path, "utf8"));
  if (!isMap(config)) throw new Error(`${path} is not a kubeconfig`);
  const context = namedEntry(config.contexts, config["current-context"], "context");
  const cluster = namedEntry(config.clusters, context.cluster, "cluster");
  const user = namedEntry(config.users, context.user, "user");
  const material = (entry: YamlMap, field: string): Buffer | undefined => {
    const data = entry[`${field}-data`];
    if (typeof data === "string") return Buffer.from(data, "base64");
    const file = entry[field];
    if (typeof file === "string") return readFileSync(isAbsolute(file) ? file : join(dirname(path), file));
    return undefined;
  };
  if (typeof cluster.server !== "string") throw new Error(`${path}: the cluster has no server`);
  return {
    server: cluster.server.replace(/\/$/, ""),
    ca: material(cluster, "certificate-authority"),
    cert: material(user, "client-certificate"),
    key: material(user, "client-key"),
    token: typeof user.token === "string" ? user.token : undefined,
  };
}

function apiPrefix(apiVersion: string): string {
  return apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

interface ResourceInfo {
  readonly plural: string;
  readonly namespaced: boolean;
}

export function connectKubernetesCluster(kubeconfigPath: string = testKubeconfigPath()): KubernetesCluster {
  const credentials = readKubeconfig(kubeconfigPath);
  const agent = new Agent({
    keepAlive: true,
    ...(credentials.ca && { ca: credentials.ca }),
    ...(credentials.cert && { cert: credentials.cert }),
    ...(credentials.key && { key: credentials.key }),
  });
  const discovery = new Map<string, Promise<Map<string, ResourceInfo>>>();

  const request = (
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<KubernetesResponse> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      const headers: Record<string, string> = { accept: "application/json" };
      if (payload !== undefined) {
        headers["content-type"] = contentType;
        // Node frames a DELETE's body neither by length nor by chunks unless told: the server
        // would read it as the start of the next request on the kept-alive connection.
        headers["content-length"] = String(Buffer.byteLength(payload));
      }
      if (credentials.token !== undefined) headers.authorization = `Bearer ${credentials.token}`;
      const outgoing = httpsRequest(
        `${credentials.server}${path}`,
        { method, agent, headers },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
          );
          response.on("error", reject);
        },
      );
      outgoing.setTimeout(30_000, () => outgoing.destroy(new Error(`${method} ${path} timed out`)));
      outgoing.on("error", reject);
      outgoing.end(payload);
    });

  const stream = (path: string): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (credentials.token !== undefined) headers.authorization = `Bearer ${credentials.token}`;
      httpsRequest(`${credentials.server}${path}`, { agent, headers }, resolve).on("error", reject).end();
    });

  const expectJson = async <T>(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<T> => {
    const response = await request(method, path, body, contentType);
    if (response.status < 200 || response.status > 299)
      throw new KubernetesRequestError(method, path, response);
    return JSON.parse(response.text) as T;
  };

  const resourcesOf = (apiVersion: string): Promise<Map<string, ResourceInfo>> => {
    let resources = discovery.get(apiVersion);
    if (resources === undefined) {
      resources = expectJson<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(
        "GET",
        apiPrefix(apiVersion),
      ).then(
        (list) =>
          new Map(
            list.resources
              .filter((resource) => !resource.name.includes("/"))
              .map((resource) => [resource.kind, { plural: resource.name, namespaced: resource.namespaced }]),
          ),
      );
      resources.catch(() => discovery.delete(apiVersion));
      discovery.set(apiVersion, resources);
    }
    return resources;
  };

  const pathOf = async (object: KubernetesObject): Promise<string> => {
    const { apiVersion, kind, metadata } = object;
    if (apiVersion === undefined || kind === undefined)
      throw new Error("an object needs apiVersion and kind");
    const resource = (await resourcesOf(apiVersion)).get(kind);
    if (resource === undefined) throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
    const namespace = resource.namespaced ? `/namespaces/${metadata?.namespace ?? "default"}` : "";
    const name = metadata?.name === undefined ? "" : `/${metadata.name}`;
    return `${apiPrefix(apiVersion)}${namespace}/${resource.plural}${name}`;
  };

  const deleteObject = async (path: string, options: { gracePeriodSeconds?: number } = {}): Promise<void> => {
    const body = options.gracePeriodSeconds === undefined ? undefined : options;
    const response = await request("DELETE", path, body);
    if (response.status === 404) return;
    if (response.status < 200 || response.status > 299)
      throw new KubernetesRequestError("DELETE", path, response);
  };

  const waitFor = async (probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  // No kubelet confirms a graceful delete of a pod on a fake node: pods go with grace 0.
  const deleteNamespace = async (name: string): Promise<void> => {
    await deleteObject(`/api/v1/namespaces/${name}/pods`, { gracePeriodSeconds: 0 });
    await deleteObject(`/api/v1/namespaces/${name}`);
  };

  const removeNode = async (name: string): Promise<void> => {
    const selector = encodeURIComponent(`spec.nodeName=${name}`);
    const pods = await expectJson<{ items: KubernetesObject[] }>(
      "GET",
      `/api/v1/pods?fieldSelector=${selector}`,
    );
    for (const pod of pods.items) {
      await deleteObject(`/api/v1/namespaces/${pod.metadata?.namespace}/pods/${pod.metadata?.name}`, {
        gracePeriodSeconds: 0,
      });
    }
    await deleteObject(`/api/v1/nodes/${name}`);
  };

  const patchTypes: Record<PatchType, string> = {
    merge: "application/merge-patch+json",
    strategic: "application/strategic-merge-patch+json",
    json: "application/json-patch+json",
  };

  return {
    kubeconfigPath,
    server: credentials.server,
    request,
    stream,
    get: (path) => expectJson("GET", path),
    create: (collectionPath, object) => expectJson("POST", collectionPath, object),
    async apply(object, options = {}) {
      const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, force: "true" });
      if (options.dryRun) query.set("dryRun", "All");
      const path = `${await pathOf(object)}?${query}`;
      return expectJson("PATCH", path, object, "application/apply-patch+yaml");
    },
    patch: (path, patch, type = "merge") => expectJson("PATCH", path, patch, patchTypes[type]),
    delete: deleteObject,
    pathOf,

    async createNamespace(prefix = "crowsnest-t") {
      const name = uniqueKubernetesName(prefix);
      await expectJson("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, labels: { [NAMESPACE_LABEL]: "true" } },
      });
      // Pods are refused until the service account controller has created "default".
      await waitFor(
        async () =>
          (await request("GET", `/api/v1/namespaces/${name}/serviceaccounts/default`)).status === 200,
        30_000,
        `the default service account of ${name}`,
      );
      return { name, delete: () => deleteNamespace(name) };
    },

    async registerFakeNode({ name, kubeletPort, labels = {} }) {
      await expectJson("POST", "/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name,
          labels: {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            [FAKE_NODE_LABEL]: "true",
            ...labels,
          },
        },
      });
      const now = new Date().toISOString();
      const condition = (type: string, status: string, reason: string) => ({
        type,
        status,
        reason,
        message: "set by the test's fake node",
        lastHeartbeatTime: now,
        lastTransitionTime: now,
      });
      const resources = { cpu: "4", memory: "8Gi", pods: "110", "ephemeral-storage": "20Gi" };
      await expectJson(
        "PATCH",
        `/api/v1/nodes/${name}/status`,
        {
          status: {
            capacity: resources,
            allocatable: resources,
            conditions: [
              condition("Ready", "True", "KubeletReady"),
              condition("MemoryPressure", "False", "KubeletHasSufficientMemory"),
              condition("DiskPressure", "False", "KubeletHasNoDiskPressure"),
              condition("PIDPressure", "False", "KubeletHasSufficientPID"),
            ],
            addresses: [
              { type: "Hostname", address: "localhost" },
              { type: "InternalIP", address: "127.0.0.1" },
            ],
            daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } },
            nodeInfo: {
              machineID: name,
              systemUUID: name,
              bootID: name,
              kernelVersion: "fake",
              osImage: "crowsnest fake node",
              containerRuntimeVersion: "fake://1",
              kubeletVersion: "v1.20.2",
              kubeProxyVersion: "v1.20.2",
              operatingSystem: "linux",
              architecture: "amd64",
            },
          },
        },
        patchTypes.merge,
      );
      // The admission plugin taints every new node not-ready; the node lifecycle controller
      // that would lift the taint is off in the test cluster.
      await expectJson("PATCH", `/api/v1/nodes/${name}`, { spec: { taints: null } }, patchTypes.merge);
      return { name, remove: () => removeNode(name) };
    },

    async sweepLeftovers(olderThanMs) {
      const createdBefore = Date.now() - olderThanMs;
      type Listed = { items: { metadata: { name: string; creationTimestamp: string } }[] };
      const stale = (list: Listed) =>
        list.items
          .filter((item) => Date.parse(item.metadata.creationTimestamp) < createdBefore)
          .map((item) => item.metadata.name);
      const selector = (label: string) => `labelSelector=${encodeURIComponent(`${label}=true`)}`;
      const nodes = stale(await expectJson<Listed>("GET", `/api/v1/nodes?${selector(FAKE_NODE_LABEL)}`));
      const namespaces = stale(
        await expectJson<Listed>("GET", `/api/v1/namespaces?${selector(NAMESPACE_LABEL)}`),
      );
      for (const node of nodes) await removeNode(node);
      for (const namespace of namespaces) await deleteNamespace(namespace);
      return [...nodes, ...namespaces];
    },
  };
}
