// Builds the HTTP application from its services; main.ts serves it, tests call app.request().
import type { Logger } from "@crowsnest/shared";
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import type { Kysely } from "kysely";
import type { AgentDirectory } from "./agents/agent-registry.ts";
import { agentRoutes } from "./agents/agent-routes.ts";
import { alertRoutes } from "./alerts/alert-routes.ts";
import { alertRuleRoutes } from "./alerts/alert-rule-routes.ts";
import { containerAlertConfigRoutes } from "./alerts/container-alert-config-routes.ts";
import { type AuthOptions, bearerAuth } from "./auth/bearer-auth.ts";
import { SESSION_PATH, sessionRoutes } from "./auth/session-routes.ts";
import { containerRoutes } from "./containers/container-routes.ts";
import { CONTRACT_PATHS, registerContract } from "./contract/contract-routes.ts";
import { dashboardRoutes, isDashboardPath } from "./dashboard/dashboard-routes.ts";
import type { ApiDatabase } from "./db/api-database.ts";
import type { PreparedStatements } from "./db/prepared-statements.ts";
import { DOCS_PATH, OPENAPI_PATH, registerDocs } from "./docs/docs-routes.ts";
import { eventRoutes } from "./events/event-routes.ts";
import { healthRoutes, type ReadinessProbe } from "./health/health-routes.ts";
import { historyRoutes } from "./history/history-routes.ts";
import { seriesRoutes } from "./history/series-routes.ts";
import { hostRoutes } from "./hosts/host-routes.ts";
import { ApiError } from "./http/api-error.ts";
import type { AppEnv } from "./http/app-env.ts";
import { createErrorHandler, handleMethodNotAllowed, handleNotFound } from "./http/error-handling.ts";
import { inspectRoutes } from "./inspect/inspect-routes.ts";
import type { InspectClient } from "./inspect/watcher-inspect-client.ts";
import type { LiveHub } from "./live/live-hub.ts";
import { type LiveOptions, liveRoutes } from "./live/live-routes.ts";
import { logRoutes } from "./logs/log-routes.ts";
import type { LogsClient } from "./logs/watcher-logs-client.ts";
import type { ApiMetrics } from "./metrics/api-metrics.ts";
import { metricsRoutes } from "./metrics/metrics-routes.ts";
import { notificationRoutes } from "./notifications/index.ts";
import { topRoutes } from "./top/top-routes.ts";

const MAX_BODY_BYTES = 64 * 1024;
// A client-supplied X-Request-Id is kept only when it is short and plain, so it cannot inject into logs.
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface AppServices {
  db: Kysely<ApiDatabase>;
  /** Named prepared statements on db's pool. */
  prepared: PreparedStatements;
  logger: Logger;
  readiness: ReadinessProbe;
  agents: AgentDirectory;
  logs: LogsClient;
  /** Inspections by the host's watcher (the runtime's view of a container now). */
  inspect: InspectClient;
  live: { hub: LiveHub } & Omit<LiveOptions, "logger">;
  metrics: ApiMetrics;
  /** Origins allowed cross-origin; empty: CORS off (no Access-Control headers at all). */
  corsOrigins: readonly string[];
  /** Token lists; undefined serves everything without a token (explicitly configured). */
  auth: Omit<AuthOptions, "publicPaths"> | undefined;
  /** The dashboard's build output (packages/dashboard/dist); unset: `/` says it is not built. */
  dashboardDir?: string;
}

/**
 * Served without a token: probes for load balancers and orchestrators, the API's and the bus's
 * descriptions, and signing a browser in (the dashboard's own files are public too: no data).
 */
const PUBLIC_PATHS = ["/healthz", "/readyz", OPENAPI_PATH, DOCS_PATH, ...CONTRACT_PATHS, SESSION_PATH];

export function createApp(services: AppServices): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.use(services.metrics.middleware());
  if (services.corsOrigins.length > 0) {
    // Before auth, so a browser's preflight (which carries no token) is answered.
    app.use(
      cors({
        origin: [...services.corsOrigins],
        allowHeaders: ["Authorization", "Content-Type", "Last-Event-ID", "X-Request-Id"],
        allowMethods: ["GET", "PUT", "POST", "DELETE"],
        exposeHeaders: ["X-Request-Id"],
        maxAge: 600,
      }),
    );
  }
  app.use(
    requestId({
      generator: () => crypto.randomUUID(),
      limitLength: 128,
      headerName: "X-Request-Id",
    }),
  );
  app.use(async function rejectUnsafeRequestId(c, next) {
    if (!SAFE_REQUEST_ID.test(c.get("requestId"))) c.set("requestId", crypto.randomUUID());
    await next();
  });
  app.use(methodNotAllowed({ app, onMethodNotAllowed: handleMethodNotAllowed }));
  app.use(async function injectServices(c, next) {
    c.set("db", services.db);
    c.set("prepared", services.prepared);
    await next();
  });
  if (services.auth) {
    const publicPaths = [...PUBLIC_PATHS];
    const authenticate = bearerAuth({ ...services.auth, publicPaths });
    app.use(async function authenticateUnlessPublicFile(c, next) {
      if (c.req.path.startsWith(`${DOCS_PATH}/assets/`) || isDashboardPath(c.req.path)) return next();
      return authenticate(c, next);
    });
  }
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError("payload_too_large", `request body larger than ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );
  app.route("/", healthRoutes(services.readiness));
  const auth = services.auth;
  app.route("/api/v1", sessionRoutes({ tokens: auth, sessionTtlMs: auth?.sessionTtlMs, now: auth?.now }));
  app.route("/api/v1", containerRoutes());
  app.route("/api/v1", eventRoutes());
  app.route("/api/v1", historyRoutes());
  app.route("/api/v1", seriesRoutes());
  app.route("/api/v1", hostRoutes());
  app.route("/api/v1", topRoutes());
  app.route("/api/v1", containerAlertConfigRoutes());
  app.route("/api/v1", alertRuleRoutes());
  app.route("/api/v1", alertRoutes());
  app.route("/api/v1", notificationRoutes());
  app.route("/api/v1", agentRoutes(services.agents));
  app.route("/api/v1", logRoutes(services.logs, { heartbeatMs: services.live.heartbeatMs }));
  app.route("/api/v1", inspectRoutes(services.inspect));
  app.route("/api/v1", liveRoutes(services.live.hub, { ...services.live, logger: services.logger }));
  app.route("/", metricsRoutes(services.metrics));
  registerDocs(app);
  registerContract(app);
  app.route("/", dashboardRoutes(services.dashboardDir));
  app.notFound(handleNotFound);
  app.onError(createErrorHandler(services.logger));
  return app;
}
