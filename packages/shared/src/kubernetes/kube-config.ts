// Where the API server is and how to authenticate to it: from a kubeconfig file (its current
// context) or, inside a pod, from the service account Kubernetes mounts. Only what a
// monitoring agent needs is supported (certificates, bearer tokens, token files); exec and
// auth-provider plugins are refused with a clear error rather than half-supported.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { load } from "js-yaml";
import { ConfigError } from "../errors/crowsnest-error.ts";
import { isJsonObject, type JsonObject } from "../util/json-fields.ts";

export const SERVICE_ACCOUNT_DIRECTORY = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Everything needed to open a TLS connection to the API server and authenticate on it. */
export interface KubeAccess {
  /** Base URL of the API server, e.g. `https://10.96.0.1:443`. */
  server: URL;
  /** CA certificates (PEM) the server's certificate must chain to; undefined: the system's. */
  ca: Buffer | undefined;
  insecureSkipTlsVerify: boolean;
  /** Name the server's certificate is checked against instead of the URL's host. */
  tlsServerName: string | undefined;
  clientCertificate: Buffer | undefined;
  clientKey: Buffer | undefined;
  /** A fixed bearer token. */
  token: string | undefined;
  /** A file holding the bearer token, re-read periodically because it rotates. */
  tokenFile: string | undefined;
  /** The kubeconfig's name of the current cluster; undefined in a pod. */
  clusterName: string | undefined;
}

export interface KubeAccessSources {
  /** CROWSNEST_KUBECONFIG: used when set. */
  kubeconfigPath: string | undefined;
  /** KUBERNETES_SERVICE_HOST/PORT, set by Kubernetes in every pod: in-cluster when both are. */
  serviceHost: string | undefined;
  servicePort: string | undefined;
  /** The standard KUBECONFIG variable; only its first path is read. */
  kubeconfigEnv: string | undefined;
  homeDirectory?: string;
  serviceAccountDirectory?: string;
}

/**
 * Picks the way in: an explicit kubeconfig, else the pod's service account when running in a
 * cluster, else `$KUBECONFIG`, else `~/.kube/config`.
 */
/**
 * The host name a Kubernetes agent publishes under: CROWSNEST_HOST_NAME, else the node name
 * (both already in the config's `hostName`), else the kubeconfig's cluster name; one rule for
 * the collector and the watcher, so both publish under one host. In a pod covering the whole
 * cluster there is none of these, and guessing one would split the host's data: a ConfigError.
 * `activity` says what the agent does to the whole cluster, for the error ("sampling",
 * "watching").
 */
export function kubernetesHostName(
  config: { hostName: string | undefined },
  access: Pick<KubeAccess, "clusterName">,
  activity: string,
): string {
  const host = config.hostName ?? access.clusterName;
  if (host === undefined) {
    throw new ConfigError(
      `CROWSNEST_HOST_NAME is required in Kubernetes mode when ${activity} a whole cluster from inside it (set it, or CROWSNEST_KUBERNETES_NODE_NAME for one node)`,
    );
  }
  return host;
}

export async function resolveKubeAccess(sources: KubeAccessSources): Promise<KubeAccess> {
  if (sources.kubeconfigPath !== undefined) return loadKubeconfigFile(sources.kubeconfigPath);
  if (sources.serviceHost && sources.servicePort) {
    return inClusterAccess({
      host: sources.serviceHost,
      port: sources.servicePort,
      directory: sources.serviceAccountDirectory ?? SERVICE_ACCOUNT_DIRECTORY,
    });
  }
  const fromEnv = sources.kubeconfigEnv?.split(":").find((entry) => entry !== "");
  return loadKubeconfigFile(fromEnv ?? join(sources.homeDirectory ?? homedir(), ".kube", "config"));
}

export async function inClusterAccess(options: {
  host: string;
  port: string;
  directory: string;
}): Promise<KubeAccess> {
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const tokenFile = join(options.directory, "token");
  const caFile = join(options.directory, "ca.crt");
  // One after the other, so the error names the first missing file, always the same one.
  const ca = await readRequired(caFile, "the service account's CA");
  await readRequired(tokenFile, "the service account's token");
  return {
    server: parseServer(`https://${host}:${options.port}`, "KUBERNETES_SERVICE_HOST/PORT"),
    ca,
    insecureSkipTlsVerify: false,
    tlsServerName: undefined,
    clientCertificate: undefined,
    clientKey: undefined,
    token: undefined,
    tokenFile,
    clusterName: undefined,
  };
}

export async function loadKubeconfigFile(path: string): Promise<KubeAccess> {
  const text = (await readRequired(path, "the kubeconfig")).toString("utf8");
  return parseKubeconfig(text, {
    path,
    readFile: (file) => readRequired(file, "a file the kubeconfig names"),
  });
}

export interface ParseKubeconfigOptions {
  /** The kubeconfig's own path: relative file names in it are relative to its directory. */
  path: string;
  readFile: (path: string) => Promise<Buffer>;
}

export async function parseKubeconfig(text: string, options: ParseKubeconfigOptions): Promise<KubeAccess> {
  const where = `kubeconfig ${options.path}`;
  let document: unknown;
  try {
    document = load(text);
  } catch (error) {
    throw new ConfigError(`${where} is not valid YAML: ${(error as Error).message}`);
  }
  if (!isJsonObject(document)) throw new ConfigError(`${where} is not a YAML mapping`);
  const contextName = document["current-context"];
  if (typeof contextName !== "string" || contextName === "") {
    throw new ConfigError(`${where} has no current-context`);
  }
  const context = namedEntry(document, "contexts", "context", contextName, where);
  const clusterName = stringField(context, "cluster", `context "${contextName}"`, where);
  const cluster = namedEntry(document, "clusters", "cluster", clusterName, where);
  const userName = optionalString(context, "user");
  const user = userName === undefined ? {} : namedEntry(document, "users", "user", userName, where);
  for (const plugin of ["exec", "auth-provider"]) {
    if (user[plugin] !== undefined) {
      throw new ConfigError(
        `${where}: user "${userName}" authenticates with ${plugin}, which Crowsnest does not run; use a client certificate, a token or a token file`,
      );
    }
  }
  const base = dirname(resolve(options.path));
  const fileOrData = async (
    fileKey: string,
    dataKey: string,
    from: JsonObject,
  ): Promise<Buffer | undefined> => {
    const data = optionalString(from, dataKey);
    if (data !== undefined) return Buffer.from(data, "base64");
    const file = optionalString(from, fileKey);
    return file === undefined ? undefined : options.readFile(isAbsolute(file) ? file : join(base, file));
  };
  const tokenFile = optionalString(user, "tokenFile");
  const access: KubeAccess = {
    server: parseServer(stringField(cluster, "server", `cluster "${clusterName}"`, where), where),
    ca: await fileOrData("certificate-authority", "certificate-authority-data", cluster),
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
    tlsServerName: optionalString(cluster, "tls-server-name"),
    clientCertificate: await fileOrData("client-certificate", "client-certificate-data", user),
    clientKey: await fileOrData("client-key", "client-key-data", user),
    token: optionalString(user, "token"),
    tokenFile: tokenFile === undefined || isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile),
    clusterName,
  };
  if ((access.clientCertificate === undefined) !== (access.clientKey === undefined)) {
    throw new ConfigError(
      `${where}: user "${userName}" has a client certificate without a key or a key without a certificate`,
    );
  }
  return access;
}

function namedEntry(
  document: JsonObject,
  listKey: string,
  itemKey: string,
  name: string,
  where: string,
): JsonObject {
  const list = document[listKey];
  const entry = Array.isArray(list)
    ? list.find((item) => isJsonObject(item) && item.name === name)
    : undefined;
  const body: unknown = isJsonObject(entry) ? entry[itemKey] : undefined;
  if (!isJsonObject(body)) throw new ConfigError(`${where} has no ${itemKey} named "${name}" in ${listKey}`);
  return body;
}

function optionalString(from: JsonObject, key: string): string | undefined {
  const value = from[key];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function stringField(from: JsonObject, key: string, owner: string, where: string): string {
  const value = optionalString(from, key);
  if (value === undefined) throw new ConfigError(`${where}: ${owner} has no ${key}`);
  return value;
}

function parseServer(text: string, where: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${where}: server "${text}" is not a URL`);
  }
  if (url.protocol !== "https:") throw new ConfigError(`${where}: server "${text}" is not an https URL`);
  return url;
}

async function readRequired(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new ConfigError(
      `cannot read ${what} at ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}
