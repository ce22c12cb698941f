import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selfSignedLoopbackCertificate } from "../../../../test/support/loopback-certificate.ts";
import { CallTimeoutError } from "../util/call-deadline.ts";
import { KubeApiError } from "./kube-api-error.ts";
import { createKubeClient, type KubeClient, type WatchEvent } from "./kube-client.ts";
import type { KubeAccess } from "./kube-config.ts";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const directory = mkdtempSync(join(tmpdir(), "kube-client-test-"));
let server: Server;
let handler: Handler = (_req, res) => res.end("{}");
const seen: { url: string; authorization: string | undefined; clientCertificate: boolean }[] = [];
let access: KubeAccess;

beforeAll(async () => {
  // One self-signed certificate serves as the server's, its CA, and the client's certificate.
  const { keyPath: key, certPath: cert } = selfSignedLoopbackCertificate(directory);
  server = createServer(
    { key: readFileSync(key), cert: readFileSync(cert), requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const socket = req.socket as import("node:tls").TLSSocket;
      seen.push({
        url: req.url ?? "",
        authorization: req.headers.authorization,
        clientCertificate: socket.getPeerCertificate().subject !== undefined,
      });
      handler(req, res);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  access = {
    server: new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ca: readFileSync(cert),
    insecureSkipTlsVerify: false,
    tlsServerName: undefined,
    clientCertificate: readFileSync(cert),
    clientKey: readFileSync(key),
    token: "secret-token",
    tokenFile: undefined,
    clusterName: "test",
  };
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(directory, { recursive: true, force: true });
});

function client(overrides: Partial<KubeAccess> = {}, timeoutMs = 2000): KubeClient {
  return createKubeClient({ access: { ...access, ...overrides }, timeoutMs, tokenRefreshMs: 50 });
}

describe("getJson", () => {
  it("sends the token and client certificate, verifies the server against the CA, and parses the answer", async () => {
    handler = (_req, res) => res.end(JSON.stringify({ kind: "PodList", items: [] }));
    const kube = client();
    const list = await kube.getJson<{ kind: string }>("/api/v1/pods", {
      query: { fieldSelector: "spec.nodeName=a b", limit: 500, skip: undefined },
    });
    kube.close();
    expect(list.kind).toBe("PodList");
    expect(seen.at(-1)).toEqual({
      url: "/api/v1/pods?fieldSelector=spec.nodeName%3Da+b&limit=500",
      authorization: "Bearer secret-token",
      clientCertificate: true,
    });
  });

  it("refuses a server whose certificate does not chain to the configured CA", async () => {
    const kube = client({ ca: undefined });
    await expect(kube.getJson("/api")).rejects.toThrow(/self-signed|self signed/);
    kube.close();
  });

  it("turns a Status answer into a KubeApiError with status, reason and message", async () => {
    handler = (_req, res) => {
      res.statusCode = 404;
      res.end(
        JSON.stringify({
          kind: "Status",
          status: "Failure",
          reason: "NotFound",
          message: 'pods "x" not found',
          code: 404,
        }),
      );
    };
    const kube = client();
    const error = await kube.getJson("/api/v1/namespaces/a/pods/x").catch((caught: unknown) => caught);
    kube.close();
    expect(error).toBeInstanceOf(KubeApiError);
    expect(error).toMatchObject({ status: 404, reason: "NotFound" });
    expect((error as Error).message).toContain('pods "x" not found');
  });

  it("reports an answer that is not JSON, and a non-Status error body, without crashing", async () => {
    handler = (_req, res) => res.end("<html>proxy</html>");
    const kube = client();
    await expect(kube.getJson("/api")).rejects.toMatchObject({ reason: "MalformedResponse" });
    handler = (_req, res) => {
      res.statusCode = 502;
      res.end("bad gateway");
    };
    await expect(kube.getJson("/api")).rejects.toMatchObject({
      status: 502,
      reason: null,
      message: "GET /api: bad gateway",
    });
    kube.close();
  });

  it("gives up after the timeout", async () => {
    handler = () => undefined;
    const kube = client({}, 200);
    await expect(kube.getJson("/api")).rejects.toBeInstanceOf(CallTimeoutError);
    kube.close();
  });

  it("re-reads a token file once the refresh interval has passed (the service account token rotates)", async () => {
    handler = (_req, res) => res.end("{}");
    const tokenFile = join(directory, "token");
    writeFileSync(tokenFile, "first\n");
    const kube = client({ token: undefined, tokenFile });
    await kube.getJson("/api");
    writeFileSync(tokenFile, "second\n");
    await new Promise((resolve) => setTimeout(resolve, 80));
    await kube.getJson("/api");
    kube.close();
    expect(seen.slice(-2).map((request) => request.authorization)).toEqual(["Bearer first", "Bearer second"]);
  });
});

describe("watch", () => {
  it("yields the events whatever the chunking, adds watch=true, and ends when the server closes", async () => {
    handler = (_req, res) => {
      res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"MODI');
      setTimeout(
        () => res.end('FIED","object":{"metadata":{"name":"a"}}}\n{"type":"BOOKMARK","object":{}}\n'),
        20,
      );
    };
    const kube = client();
    const events: WatchEvent[] = [];
    for await (const event of kube.watch("/api/v1/pods", { query: { resourceVersion: "7" } }))
      events.push(event);
    kube.close();
    expect(seen.at(-1)?.url).toBe("/api/v1/pods?resourceVersion=7&watch=true");
    expect(events.map((event) => event.type)).toEqual(["ADDED", "MODIFIED", "BOOKMARK"]);
  });

  it("throws a 410 KubeApiError for an ERROR event about an expired resourceVersion", async () => {
    handler = (_req, res) =>
      res.end(
        `${JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version: 1 (5)" } })}\n`,
      );
    const kube = client();
    const error = await (async () => {
      for await (const _event of kube.watch("/api/v1/pods")) {
        // consumed until the error
      }
    })().catch((caught: unknown) => caught);
    kube.close();
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).isGone).toBe(true);
  });

  it("throws on a line that is not a watch event", async () => {
    handler = (_req, res) => res.end('{"type":"ADDED","object":"not an object"}\n');
    const kube = client();
    const drain = async () => {
      for await (const _event of kube.watch("/api/v1/pods")) {
        // consumed until the error
      }
    };
    await expect(drain()).rejects.toMatchObject({ reason: "MalformedResponse" });
    kube.close();
  });

  it("ends quietly when aborted while the server keeps the watch open", async () => {
    handler = (_req, res) => res.write('{"type":"ADDED","object":{}}\n');
    const kube = client();
    const controller = new AbortController();
    const types: string[] = [];
    for await (const event of kube.watch("/api/v1/pods", { signal: controller.signal })) {
      types.push(event.type);
      controller.abort();
    }
    kube.close();
    expect(types).toEqual(["ADDED"]);
  });
});

describe("stream", () => {
  it("hands over the raw body as it arrives", async () => {
    handler = (_req, res) => {
      res.write("line 1\n");
      setTimeout(() => res.end("line 2\n"), 20);
    };
    const kube = client();
    const response = await kube.stream("/api/v1/namespaces/a/pods/b/log", { query: { follow: true } });
    let text = "";
    for await (const chunk of response) text += String(chunk);
    kube.close();
    expect(text).toBe("line 1\nline 2\n");
    expect(seen.at(-1)?.url).toBe("/api/v1/namespaces/a/pods/b/log?follow=true");
  });
});
