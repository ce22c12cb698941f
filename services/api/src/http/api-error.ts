// The one error type handlers throw, and the exhaustive map from error code to HTTP status.
// Every error leaves the api as {"error": {"code", "message", "request_id"}}.
import { z } from "@hono/zod-openapi";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  no_data: 404,
  method_not_allowed: 405,
  ambiguous: 409,
  request_timeout: 408,
  payload_too_large: 413,
  unsupported_media_type: 415,
  request_header_fields_too_large: 431,
  // The container's runtime keeps no readable logs (containerd without nerdctl's log files).
  logs_unavailable: 501,
  service_unavailable: 503,
  watcher_unavailable: 503,
  runtime_unavailable: 503,
  internal: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  readonly code: ErrorCode;
  /** More fields of the envelope's `error` object (a 409's `candidates`). */
  readonly details: Readonly<Record<string, unknown>> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.details = details;
  }

  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code];
  }
}

export const errorEnvelope = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      request_id: z.string(),
    }),
  })
  .openapi("Error");
export type ErrorEnvelope = z.infer<typeof errorEnvelope>;

/** An error response in the OpenAPI document: the envelope, with what it means for this route. */
export function errorDoc(description: string) {
  return { description, content: { "application/json": { schema: errorEnvelope } } };
}

export function errorBody(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: Readonly<Record<string, unknown>>,
): ErrorEnvelope {
  return { error: { ...details, code, message, request_id: requestId } };
}
