// Notification channels, routes, mutes and the delivery log (docs/notifications.md).
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/app-env.ts";
import { channelRoutes } from "./channel-routes.ts";
import { deliveryRoutes } from "./delivery-routes.ts";
import { routingRoutes } from "./routing-routes.ts";

export function notificationRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.route("/", channelRoutes());
  app.route("/", routingRoutes());
  app.route("/", deliveryRoutes());
  return app;
}
