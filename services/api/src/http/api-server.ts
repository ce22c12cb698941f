// The api's HTTP server: Node's http server running the Hono app through @hono/node-server.
// Two kinds of failure happen before Hono sees a request, and both leave with the error
// envelope like every other error instead of Node's bare status line or an empty body:
// - Node's HTTP parser refuses the bytes (`clientError`): 400 malformed request, 408 request
//   timeout, 413 chunk extensions too large, 431 headers over --max-http-header-size (16 KiB);
// - @hono/node-server cannot build a Request (a request target that is not a path: 400) or the
//   app's fetch rejects (500, never its message).
// On shutdown the server stops accepting, tells keep-alive clients to go (`Connection: close` on
// every answer from then on: Node keeps a busy keep-alive connection open after close()), and
// reports done only once every request handler has returned, not once every socket is gone: a
// handler whose connection was cut still reads Postgres, which must stay open until it is done.
import { createServer, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "@crowsnest/shared";
import { getRequestListener, RequestError } from "@hono/node-server";
import { ERROR_STATUS, type ErrorCode, errorBody } from "./api-error.ts";

type Fetch = Parameters<typeof getRequestListener>[0];

/** What Node's parser can refuse, as Node itself would answer it (lib/_http_server.js). */
function codeForClientError(error: NodeJS.ErrnoException): ErrorCode {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return "request_header_fields_too_large";
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return "payload_too_large";
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return "request_timeout";
    default:
      return "invalid_request";
  }
}

const CLIENT_ERROR_MESSAGE: Partial<Record<ErrorCode, string>> = {
  request_header_fields_too_large: "the request headers are too large (at most 16 KiB)",
  payload_too_large: "the request's chunk extensions are too large",
  request_timeout: "the request did not arrive in time",
  invalid_request: "the request is not valid HTTP/1.1",
};

function envelopeResponse(code: ErrorCode, message: string): Response {
  return new Response(JSON.stringify(errorBody(code, message, crypto.randomUUID())), {
    status: ERROR_STATUS[code],
    headers: { "Content-Type": "application/json" },
  });
}

export interface ApiServer {
  readonly server: Server;
  /**
   * Stops accepting connections and resolves once no request handler is running; connections
   * still open after `forceAfterMs` (a live stream whose client takes nothing) are closed.
   */
  shutdown(forceAfterMs: number): Promise<void>;
}

export function createApiServer(options: { fetch: Fetch; logger: Logger }): ApiServer {
  const listener = getRequestListener(options.fetch, {
    errorHandler(error) {
      if (error instanceof RequestError) {
        return envelopeResponse("invalid_request", `the request target is not valid: ${error.message}`);
      }
      options.logger.error({ err: error }, "request failed outside the app");
      return envelopeResponse("internal", "internal error; quote the request_id when reporting it");
    },
  });
  // Responses whose handler is still running: each is told `Connection: close` once closing.
  const running = new Set<ServerResponse>();
  let closing = false;
  let whenIdle: (() => void) | undefined;
  const server = createServer((request, response) => {
    if (closing) response.setHeader("Connection", "close");
    running.add(response);
    void listener(request, response)
      .catch((error: unknown) => options.logger.error({ err: error }, "request failed outside the app"))
      .finally(() => {
        running.delete(response);
        if (running.size === 0) whenIdle?.();
      });
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    // A connection reset or a response already under way leaves nothing to answer.
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const code = codeForClientError(error);
    const body = JSON.stringify(errorBody(code, CLIENT_ERROR_MESSAGE[code] ?? code, crypto.randomUUID()));
    socket.end(
      `HTTP/1.1 ${ERROR_STATUS[code]} ${STATUS_TEXT[code]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return {
    server,
    async shutdown(forceAfterMs) {
      closing = true;
      for (const response of running) if (!response.headersSent) response.setHeader("Connection", "close");
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const force = setTimeout(() => server.closeAllConnections(), forceAfterMs);
      await closed;
      clearTimeout(force);
      if (running.size > 0) await new Promise<void>((resolve) => (whenIdle = resolve));
    },
  };
}

const STATUS_TEXT: Partial<Record<ErrorCode, string>> = {
  request_header_fields_too_large: "Request Header Fields Too Large",
  payload_too_large: "Payload Too Large",
  request_timeout: "Request Timeout",
  invalid_request: "Bad Request",
};
