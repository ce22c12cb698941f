// What every handler can reach through the Hono context: the request id and the services
// main.ts injected. Tests build the same context with their own database.

import type { ServerResponse } from "node:http";
import { describeIssues } from "@crowsnest/shared";
import type { Hook } from "@hono/zod-openapi";
import type { Kysely } from "kysely";
import type { ApiDatabase } from "../db/api-database.ts";
import type { PreparedStatements } from "../db/prepared-statements.ts";
import { ApiError } from "./api-error.ts";

export interface AppEnv {
  /** Node's request and response when served by @hono/node-server; absent under app.request(). */
  Bindings: { outgoing?: ServerResponse };
  Variables: {
    requestId: string;
    db: Kysely<ApiDatabase>;
    /** The same pool's statements run as named prepared statements (the history chart's). */
    prepared: PreparedStatements;
  };
}

/** Every route validates with this: a bad parameter is a 400 that names it and says what was expected. */
export const rejectInvalidInput: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (!result.success) throw new ApiError("invalid_request", describeIssues(result.error));
};
