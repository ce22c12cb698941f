// A lean client for the Kubernetes API server: JSON GETs, raw streaming GETs (pod logs) and
// watches, over node:https with one keep-alive agent. It replaces @kubernetes/client-node at
// runtime, whose configuration module alone costs tens of megabytes, for the few reads
// Crowsnest makes. Nothing it returns is trusted: callers validate the JSON they get, and a
// response that is not what the API promises becomes a KubeApiError, never a crash.

import { readFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { Agent, request } from "node:https";
import type { Readable } from "node:stream";
import { CallTimeoutError } from "../util/call-deadline.ts";
import { isJsonObject } from "../util/json-fields.ts";
import { KubeApiError, kubeApiErrorFromStatus, MALFORMED_RESPONSE } from "./kube-api-error.ts";
import type { KubeAccess } from "./kube-config.ts";
import { splitLines } from "./line-split.ts";

export type QueryValue = string | number | boolean | undefined;
export type Query = Readonly<Record<string, QueryValue>>;

export interface RequestOptions {
  query?: Query;
  signal?: AbortSignal;
  /**
   * getJson: how long the whole answer may take. stream/watch: how long until the response
   * headers arrive (the body may then flow for as long as the server keeps it open).
   */
  timeoutMs?: number;
}

export interface WatchOptions extends RequestOptions {
  /** Told when the server has accepted the watch (its response headers arrived), before any event. */
  onOpen?: () => void;
}

export const WATCH_EVENT_TYPES = ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"] as const;
export type WatchEventType = (typeof WATCH_EVENT_TYPES)[number];

/** One watch event; `object` is the object as the server sent it, for the caller to validate. */
export interface WatchEvent {
  type: WatchEventType;
  object: Readonly<Record<string, unknown>>;
}

export interface KubeClient {
  /** GETs `path` and parses the JSON answer; T is what the caller expects, not something checked here. */
  getJson<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
  /** GETs `path` and hands over the response body as it arrives (pod logs, `follow`); destroy it to stop. */
  stream(path: string, options?: RequestOptions): Promise<Readable>;
  /**
   * Watches `path` (`watch=true` is added): the events as they come. Ends when the server
   * closes the watch or `signal` aborts; throws a KubeApiError for an `ERROR` event (410 Gone
   * when the resourceVersion is too old) or a line that is not a watch event.
   */
  watch(path: string, options?: WatchOptions): AsyncIterable<WatchEvent>;
  /** Closes the idle keep-alive connections. */
  close(): void;
}

export interface KubeClientOptions {
  access: KubeAccess;
  /** How long a token read from a file is used before the file is read again (it rotates). */
  tokenRefreshMs?: number;
  /** Default of RequestOptions.timeoutMs. */
  timeoutMs?: number;
  /** Largest JSON answer read; a list of thousands of pods is tens of megabytes. */
  maxJsonBytes?: number;
  /** Longest watch line; one object is limited to about 1.5 MB by etcd. */
  maxWatchLineBytes?: number;
}

const ERROR_BODY_MAX_BYTES = 64 * 1024;

export function createKubeClient(options: KubeClientOptions): KubeClient {
  const { access } = options;
  const defaultTimeoutMs = options.timeoutMs ?? 10_000;
  const maxJsonBytes = options.maxJsonBytes ?? 256 * 1024 * 1024;
  const maxWatchLineBytes = options.maxWatchLineBytes ?? 16 * 1024 * 1024;
  const token = bearerTokenSource(access, options.tokenRefreshMs ?? 60_000);
  const agent = new Agent({
    keepAlive: true,
    ...(access.ca === undefined ? {} : { ca: access.ca }),
    ...(access.clientCertificate === undefined ? {} : { cert: access.clientCertificate }),
    ...(access.clientKey === undefined ? {} : { key: access.clientKey }),
    ...(access.tlsServerName === undefined ? {} : { servername: access.tlsServerName }),
    rejectUnauthorized: !access.insecureSkipTlsVerify,
  });
  const basePath = access.server.pathname.replace(/\/+$/, "");

  const urlOf = (path: string, query: Query | undefined): URL => {
    const url = new URL(access.server);
    url.pathname = basePath + path;
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  };

  /** Opens a GET and resolves with a 2xx response; anything else rejects with a KubeApiError. */
  const open = async (path: string, requestOptions: RequestOptions): Promise<IncomingMessage> => {
    const url = urlOf(path, requestOptions.query);
    const what = `GET ${url.pathname}`;
    const timeoutMs = requestOptions.timeoutMs ?? defaultTimeoutMs;
    const bearer = await token();
    const { signal } = requestOptions;
    signal?.throwIfAborted();
    return new Promise<IncomingMessage>((resolvePromise, reject) => {
      const req = request(url, {
        method: "GET",
        agent,
        headers: {
          accept: "application/json",
          ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
        },
      });
      const timer = setTimeout(() => req.destroy(new CallTimeoutError(what, timeoutMs)), timeoutMs);
      const onAbort = () =>
        req.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      const settle = () => {
        clearTimeout(timer);
      };
      // `on`, not `once`: a destroy after a first error must not become an unhandled error.
      req.on("error", (error) => {
        settle();
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      });
      req.once("response", (response) => {
        settle();
        // The abort keeps working on the body, which the caller now reads.
        response.once("close", () => signal?.removeEventListener("abort", onAbort));
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          resolvePromise(response);
          return;
        }
        readBody(response, ERROR_BODY_MAX_BYTES, true)
          .then((text) => reject(kubeApiErrorFromStatus(parseOrUndefined(text), status, text, what)))
          .catch(reject);
      });
      req.end();
    });
  };

  return {
    async getJson<T>(path: string, requestOptions: RequestOptions = {}): Promise<T> {
      const timeoutMs = requestOptions.timeoutMs ?? defaultTimeoutMs;
      const deadline = AbortSignal.timeout(timeoutMs);
      const signal =
        requestOptions.signal === undefined ? deadline : AbortSignal.any([deadline, requestOptions.signal]);
      const what = `GET ${path}`;
      try {
        const response = await open(path, { ...requestOptions, signal, timeoutMs });
        const text = await readBody(response, maxJsonBytes, false);
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new KubeApiError(
            response.statusCode ?? 0,
            MALFORMED_RESPONSE,
            `${what}: the answer is not JSON`,
          );
        }
      } catch (error) {
        if (deadline.aborted && !(error instanceof KubeApiError)) throw new CallTimeoutError(what, timeoutMs);
        throw error;
      }
    },
    stream: (path, requestOptions = {}) => open(path, requestOptions),
    async *watch(path, requestOptions = {}) {
      const { signal } = requestOptions;
      const query = { ...requestOptions.query, watch: "true" };
      const response = await open(path, { ...requestOptions, query });
      requestOptions.onOpen?.();
      try {
        for await (const line of splitLines(response, maxWatchLineBytes)) {
          yield parseWatchLine(line, path);
        }
      } catch (error) {
        if (signal?.aborted) return;
        throw error;
      } finally {
        response.destroy();
      }
    },
    close() {
      agent.destroy();
    },
  };
}

function parseWatchLine(line: string, path: string): WatchEvent {
  const what = `watch ${path}`;
  const parsed = parseOrUndefined(line);
  if (!isJsonObject(parsed) || !isJsonObject(parsed.object)) {
    throw new KubeApiError(
      200,
      MALFORMED_RESPONSE,
      `${what}: a line is not a watch event: ${line.slice(0, 200)}`,
    );
  }
  if (parsed.type === "ERROR") throw kubeApiErrorFromStatus(parsed.object, 500, "", what);
  const type = WATCH_EVENT_TYPES.find((known) => known === parsed.type);
  if (type === undefined) {
    throw new KubeApiError(
      200,
      MALFORMED_RESPONSE,
      `${what}: unknown watch event type ${String(parsed.type)}`,
    );
  }
  return { type, object: parsed.object };
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The body as text; over `maxBytes` it is cut (`truncate`) or refused with a KubeApiError. */
async function readBody(response: IncomingMessage, maxBytes: number, truncate: boolean): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      response.destroy();
      if (truncate) break;
      throw new KubeApiError(
        response.statusCode ?? 0,
        MALFORMED_RESPONSE,
        `answer larger than ${maxBytes} bytes`,
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The current bearer token: fixed, or read from a file at most every `refreshMs`. */
function bearerTokenSource(access: KubeAccess, refreshMs: number): () => Promise<string | undefined> {
  const { tokenFile } = access;
  if (tokenFile === undefined) return async () => access.token;
  let cached: string | undefined;
  let readAtMs = Number.NEGATIVE_INFINITY;
  return async () => {
    if (Date.now() - readAtMs < refreshMs && cached !== undefined) return cached;
    try {
      cached = (await readFile(tokenFile, "utf8")).trim();
      readAtMs = Date.now();
    } catch (error) {
      // A rotation caught mid-write, or a transient mount problem: the last token may still be valid.
      if (cached === undefined) {
        throw new KubeApiError(
          0,
          "TokenUnreadable",
          `cannot read the token file ${tokenFile}: ${String(error)}`,
        );
      }
    }
    return cached;
  };
}
