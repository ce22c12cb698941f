// Turns anything a request can go wrong with into the error envelope: ApiError as it says,
// Hono's own HTTP errors (malformed JSON, body limits) as 4xx, and anything unexpected as a
// 500 that is logged with the request id but never shows internals to the client.
import type { Logger } from "@crowsnest/shared";
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ApiError, ERROR_STATUS, type ErrorCode, errorBody } from "./api-error.ts";

export function errorResponse(
  c: Context,
  code: ErrorCode,
  message: string,
  details?: Readonly<Record<string, unknown>>,
): Response {
  return c.json(errorBody(code, message, c.get("requestId"), details), ERROR_STATUS[code]);
}

/**
 * Every status the framework throws as an HTTPException here (see docs/api.md, Errors): the
 * validators' 400 (malformed JSON), @hono/zod-openapi's 415 (a body not sent as JSON), and what
 * Hono's middleware could throw (401, 403, 404, 405, 408, 413, 431). A status missing here is
 * a 500, logged, so a new one is noticed rather than shown to a client with a made-up code.
 */
const CODE_FOR_HTTP_STATUS: Partial<Record<number, ErrorCode>> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  408: "request_timeout",
  413: "payload_too_large",
  415: "unsupported_media_type",
  431: "request_header_fields_too_large",
};

function messageFor(error: HTTPException, code: ErrorCode, c: Context): string {
  if (code === "unsupported_media_type") {
    const sent = c.req.header("Content-Type");
    return `send the body as JSON with Content-Type: application/json (this request had ${sent ? `Content-Type: ${sent}` : "no Content-Type"})`;
  }
  return error.message || "bad request";
}

export function createErrorHandler(logger: Logger): ErrorHandler {
  return function handleError(error, c) {
    if (error instanceof ApiError) return errorResponse(c, error.code, error.message, error.details);
    if (error instanceof HTTPException) {
      const code = CODE_FOR_HTTP_STATUS[error.status];
      if (code) return errorResponse(c, code, messageFor(error, code, c));
    }
    logger.error({ err: error, request_id: c.get("requestId"), path: c.req.path }, "request failed");
    return errorResponse(c, "internal", "internal error; quote the request_id when reporting it");
  };
}

export const handleNotFound: NotFoundHandler = function handleNotFound(c) {
  return errorResponse(c, "not_found", `no route for ${c.req.method} ${c.req.path}`);
};

/** A path that exists, asked with a method it does not have: 405 with Allow (Hono's default is a 404). */
export function handleMethodNotAllowed(c: Context, methods: string[]): Response {
  c.header("Allow", methods.join(", "));
  return errorResponse(
    c,
    "method_not_allowed",
    `${c.req.path} takes ${methods.join(", ")}, not ${c.req.method}`,
  );
}
