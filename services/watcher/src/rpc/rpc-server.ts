// Serves the watcher's request/reply subjects, `<prefix>.v1.rpc.<host>.logs` and `.inspect`,
// on plain subscriptions (one watcher per host, so no queue group). Each request is handled
// on its own, so a long follow stream never holds up an inspect. stop() stops intake (drains
// the subscriptions), ends the log streams in progress and waits for every answer.
import type { Logger, Subjects } from "@crowsnest/shared/agent";
import type { InspectResponder } from "./inspect-responder.ts";
import type { LogsResponder } from "./log-request-handling.ts";
import type { RpcConnection, RpcMessage, RpcSubscription } from "./rpc-connection.ts";

export interface RpcServerOptions {
  nc: Pick<RpcConnection, "subscribe">;
  subjects: Subjects;
  host: string;
  logger: Logger;
  logs: LogsResponder;
  inspect: InspectResponder;
}

export interface RpcServer {
  start(): void;
  stop(): Promise<void>;
}

export function createRpcServer(options: RpcServerOptions): RpcServer {
  const { nc, subjects, host, logger, logs, inspect } = options;
  const subscriptions: RpcSubscription[] = [];
  const loops: Promise<void>[] = [];
  const inFlight = new Set<Promise<void>>();

  const serve = (subscription: RpcSubscription, handle: (message: RpcMessage) => Promise<void>) =>
    (async () => {
      for await (const message of subscription) {
        const handling = handle(message)
          .catch((error: unknown) => logger.error({ err: error, subject: message.subject }, "request failed"))
          .finally(() => inFlight.delete(handling));
        inFlight.add(handling);
      }
    })().catch((error: unknown) => logger.error({ err: error }, "request subscription failed"));

  return {
    start() {
      if (subscriptions.length > 0) return;
      const logsSubject = subjects.rpc(host, "logs");
      const inspectSubject = subjects.rpc(host, "inspect");
      const logsSubscription = nc.subscribe(logsSubject);
      const inspectSubscription = nc.subscribe(inspectSubject);
      subscriptions.push(logsSubscription, inspectSubscription);
      loops.push(serve(logsSubscription, (message) => logs.handle(message)));
      loops.push(serve(inspectSubscription, inspect));
      logger.info({ logs: logsSubject, inspect: inspectSubject }, "answering log and inspect requests");
    },
    async stop() {
      await Promise.allSettled(subscriptions.map((subscription) => subscription.drain()));
      await Promise.allSettled(loops);
      await logs.stop();
      await Promise.allSettled([...inFlight]);
    },
  };
}
