// Plays the kubelet of fake nodes for the API server's node proxy and pods/log: an HTTPS
// server on 127.0.0.1 with a certificate the test cluster's CA signed (the API server checks
// it against the node's Hostname address, localhost), serving `/stats/summary` with the body
// a test sets and `/containerLogs/<ns>/<pod>/<container>` from the lines a test sets and
// appends, the way the kubelet answers those requests: 404 for a pod it does not run or a
// container that pod does not have, 400 for a container instance without a log (not started
// yet, no previous instance). It records every request it gets.

import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { testKubeconfigPath } from "./kubernetes-cluster.ts";

/** A log line; without a time it was written when it was set or appended. */
export type StandInLogLine = string | { readonly text: string; readonly time: Date };

export interface RecordedKubeletRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** The `Authorization` header: a direct client's bearer token (the API server's proxy sends none). */
  readonly authorization: string | undefined;
  readonly receivedAt: Date;
}

export interface LogTarget {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  /** The last terminated instance, served for `previous=true`. */
  readonly previous?: boolean;
}

export interface KubeletStandIn {
  readonly port: number;
  /** Every request, oldest first. */
  readonly requests: readonly RecordedKubeletRequest[];
  /** Why each failed TLS handshake failed (a client that refused the certificate), oldest first. */
  readonly tlsFailures: readonly string[];
  /** The JSON body of `/stats/summary`. */
  setSummary(body: unknown): void;
  /** Any other path answered with a JSON body, e.g. for an aggregated API the test points here. */
  setJson(path: string, body: unknown): void;
  /**
   * Makes the stand-in run a pod with these containers (none started: their logs answer 400
   * until lines are set). A pod it does not run, or a container not among these, answers 404.
   */
  setPod(pod: {
    readonly namespace: string;
    readonly pod: string;
    readonly containers: readonly string[];
  }): void;
  /** Replaces a container's log (and makes the pod and container known). */
  setLogLines(target: LogTarget, lines: readonly StandInLogLine[]): void;
  /** Appends to a container's log; `follow` requests receive the lines at once. */
  appendLogLines(target: LogTarget, lines: readonly StandInLogLine[]): void;
  stop(): Promise<void>;
}

export interface KubeletStandInOptions {
  /** The cluster's kubeconfig; the certificate is read from `pki/kubelet-stand-in.{crt,key}` beside it. */
  readonly kubeconfigPath?: string;
  /** A serving certificate and key (PEM) of the test's own, instead of the cluster's. */
  readonly tls?: { readonly cert: Buffer | string; readonly key: Buffer | string };
  /**
   * Decides each request as a kubelet's webhook authentication and authorization would (e.g. by
   * TokenReview and SubjectAccessReview): a status (401, 403) refuses it, undefined lets it through.
   */
  readonly authorize?: (request: RecordedKubeletRequest) => Promise<number | undefined>;
}

interface TimedLine {
  readonly text: string;
  readonly time: Date;
}

interface ContainerLog {
  readonly lines: TimedLine[];
  readonly followers: Set<{ write(line: TimedLine): void; end(): void }>;
}

function timed(line: StandInLogLine): TimedLine {
  return typeof line === "string" ? { text: line, time: new Date() } : line;
}

/** RFC 3339 with nanoseconds, as the kubelet prefixes lines when `timestamps=true`. */
function kubeletTimestamp(time: Date): string {
  return time.toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
}

function logKey(target: LogTarget): string {
  return [target.namespace, target.pod, target.container, target.previous ? "previous" : "current"].join("/");
}

function sinceFilter(query: URLSearchParams): (line: TimedLine) => boolean {
  const sinceSeconds = query.get("sinceSeconds");
  const sinceTime = query.get("sinceTime");
  const since =
    sinceSeconds !== null
      ? Date.now() - Number(sinceSeconds) * 1000
      : sinceTime !== null
        ? Date.parse(sinceTime)
        : Number.NEGATIVE_INFINITY;
  return (line) => line.time.getTime() >= since;
}

export async function startKubeletStandIn(options: KubeletStandInOptions = {}): Promise<KubeletStandIn> {
  const pkiDir = join(dirname(options.kubeconfigPath ?? testKubeconfigPath()), "pki");
  const requests: RecordedKubeletRequest[] = [];
  const tlsFailures: string[] = [];
  const jsonBodies = new Map<string, unknown>();
  const logs = new Map<string, ContainerLog>();
  /** The containers of each pod this "kubelet" runs, by `namespace/pod`. */
  const pods = new Map<string, Set<string>>();
  const containersOf = (namespace: string, pod: string): Set<string> => {
    const key = `${namespace}/${pod}`;
    let containers = pods.get(key);
    if (containers === undefined) {
      containers = new Set();
      pods.set(key, containers);
    }
    return containers;
  };

  const logOf = (target: LogTarget): ContainerLog => {
    containersOf(target.namespace, target.pod).add(target.container);
    const key = logKey(target);
    let log = logs.get(key);
    if (log === undefined) {
      log = { lines: [], followers: new Set() };
      logs.set(key, log);
    }
    return log;
  };

  const sendText = (response: ServerResponse, status: number, text: string): void => {
    response.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(text);
  };

  const serveLog = (url: URL, response: ServerResponse): void => {
    const [namespace = "", pod = "", container = ""] = url.pathname
      .slice("/containerLogs/".length)
      .split("/")
      .map(decodeURIComponent);
    const query = url.searchParams;
    const target = { namespace, pod, container, previous: query.get("previous") === "true" };
    // The kubelet's answers (pkg/kubelet/server/server.go, getContainerLogs): 404 for a pod it
    // does not run or a container that pod does not have, 400 for an instance without a log.
    const containers = pods.get(`${namespace}/${pod}`);
    if (containers === undefined) {
      sendText(response, 404, `pod "${pod}" does not exist`);
      return;
    }
    if (!containers.has(container)) {
      sendText(response, 404, `container "${container}" not found in pod "${pod}"`);
      return;
    }
    const log = logs.get(logKey(target));
    if (log === undefined) {
      sendText(
        response,
        400,
        target.previous
          ? `previous terminated container "${container}" in pod "${pod}" not found`
          : `container "${container}" in pod "${pod}" is waiting to start: ContainerCreating`,
      );
      return;
    }
    const withTimestamps = query.get("timestamps") === "true";
    const format = (line: TimedLine) =>
      `${withTimestamps ? `${kubeletTimestamp(line.time)} ` : ""}${line.text}\n`;
    let lines = log.lines.filter(sinceFilter(query));
    const tailLines = query.get("tailLines");
    if (tailLines !== null) lines = Number(tailLines) > 0 ? lines.slice(-Number(tailLines)) : [];
    let text = lines.map(format).join("");
    const limitBytes = query.get("limitBytes");
    if (limitBytes !== null) text = Buffer.from(text).subarray(0, Number(limitBytes)).toString("utf8");
    response.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    if (query.get("follow") !== "true") {
      response.end(text);
      return;
    }
    response.write(text);
    const follower = { write: (line: TimedLine) => response.write(format(line)), end: () => response.end() };
    log.followers.add(follower);
    response.on("close", () => log.followers.delete(follower));
  };

  const serve = (url: URL, response: ServerResponse): void => {
    if (url.pathname.startsWith("/containerLogs/")) {
      serveLog(url, response);
      return;
    }
    const body = jsonBodies.get(url.pathname);
    if (body === undefined) {
      sendText(response, 404, `the kubelet stand-in has nothing at ${url.pathname}`);
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  };

  const server = createServer(
    options.tls ?? {
      cert: readFileSync(join(pkiDir, "kubelet-stand-in.crt")),
      key: readFileSync(join(pkiDir, "kubelet-stand-in.key")),
    },
    (request, response) => {
      const url = new URL(request.url ?? "/", "https://localhost");
      const recorded: RecordedKubeletRequest = {
        method: request.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        authorization: request.headers.authorization,
        receivedAt: new Date(),
      };
      requests.push(recorded);
      if (options.authorize === undefined) {
        serve(url, response);
        return;
      }
      options.authorize(recorded).then(
        (refusal) => {
          if (refusal === undefined) serve(url, response);
          else sendText(response, refusal, refusal === 401 ? "Unauthorized" : "Forbidden");
        },
        (error: unknown) => sendText(response, 500, `the stand-in could not authorize: ${String(error)}`),
      );
    },
  );
  server.on("tlsClientError", (error) => tlsFailures.push(error.message));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");

  return {
    port: (server.address() as AddressInfo).port,
    requests,
    tlsFailures,
    setSummary: (body) => jsonBodies.set("/stats/summary", body),
    setJson: (path, body) => jsonBodies.set(path, body),
    setPod(pod) {
      const containers = containersOf(pod.namespace, pod.pod);
      for (const container of pod.containers) containers.add(container);
    },
    setLogLines(target, lines) {
      const log = logOf(target);
      log.lines.splice(0, log.lines.length, ...lines.map(timed));
    },
    appendLogLines(target, lines) {
      const log = logOf(target);
      for (const line of lines.map(timed)) {
        log.lines.push(line);
        for (const follower of log.followers) follower.write(line);
      }
    },
    async stop() {
      for (const log of logs.values()) for (const follower of log.followers) follower.end();
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
