// Turns anything a request can go wrong with into the error envelope: ApiError as it says,
// Hono's own HTTP errors (malformed JSON, body limits) as 4xx, and anything unexpected as a
// 500 that is logged with the request id but never shows internals to the client.
import type { Logger } from "@crowsnest/shared";
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ApiError, ERROR_STATUS, type ErrorCode, type ErrorEnvelope } from "./api-error.ts";

export function errorResponse(
  c: Context,
  code: ErrorCode,
  message: string,
  details?: Readonly<Record<string, unknown>>,
): Response {
  const body: ErrorEnvelope = { error: { ...details, code, message, request_id: c.get("requestId") } };
  return c.json(body, ERROR_STATUS[code]);
}

const CODE_FOR_HTTP_STATUS: Partial<Record<number, ErrorCode>> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
};

export function createErrorHandler(logger: Logger): ErrorHandler {
  return function handleError(error, c) {
    if (error instanceof ApiError) return errorResponse(c, error.code, error.message, error.details);
    if (error instanceof HTTPException) {
      const code = CODE_FOR_HTTP_STATUS[error.status];
      if (code) return errorResponse(c, code, error.message || "bad request");
    }
    logger.error({ err: error, request_id: c.get("requestId"), path: c.req.path }, "request failed");
    return errorResponse(c, "internal", "internal error; quote the request_id when reporting it");
  };
}

export const handleNotFound: NotFoundHandler = function handleNotFound(c) {
  return errorResponse(c, "not_found", `no route for ${c.req.method} ${c.req.path}`);
};
