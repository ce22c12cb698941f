// A real HTTP server on loopback standing in for a webhook-style service (generic webhook,
// Slack, Discord, ntfy): records every request and answers what the test tells it to.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAtMs: number;
}

export interface HttpReceiver {
  /** `http://127.0.0.1:<port>` (stays the same across stop/start). */
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** Decides each answer: a status, and optionally a body, or "never" (hangs). Default 200 "ok". */
  respond: (request: ReceivedRequest) => { status: number; body?: string } | "never";
  /** Closes the listening socket (the service is down: connections are refused). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

export async function startHttpReceiver(): Promise<HttpReceiver> {
  let server: Server | undefined;
  let port = 0;
  const receiver: HttpReceiver = {
    url: "",
    requests: [],
    respond: () => ({ status: 200, body: "ok" }),
    async stop() {
      const current = server;
      server = undefined;
      if (!current) return;
      current.closeAllConnections();
      await new Promise<void>((resolve) => current.close(() => resolve()));
    },
    async start() {
      const created = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => {
          const request: ReceivedRequest = {
            method: req.method ?? "",
            path: req.url ?? "",
            headers: req.headers,
            body: Buffer.concat(chunks).toString("utf8"),
            receivedAtMs: Date.now(),
          };
          receiver.requests.push(request);
          const answer = receiver.respond(request);
          if (answer === "never") return;
          res.writeHead(answer.status, { "content-type": "text/plain" });
          res.end(answer.body ?? "");
        });
      });
      await new Promise<void>((resolve) => created.listen(port, "127.0.0.1", resolve));
      port = (created.address() as AddressInfo).port;
      server = created;
    },
  };
  await receiver.start();
  Object.defineProperty(receiver, "url", { value: `http://127.0.0.1:${port}` });
  return receiver;
}
