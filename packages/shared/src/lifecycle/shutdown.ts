// Runs a service's stop() once on the first SIGTERM or SIGINT, with a hard deadline, then exits.
import type { Logger } from "../log/logger.ts";

export interface ShutdownOptions {
  logger: Logger;
  timeoutMs: number;
  stop: () => Promise<void>;
}

export function exitOnShutdownSignal(options: ShutdownOptions): void {
  const { logger } = options;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, "second signal during shutdown; exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeout_ms: options.timeoutMs }, "shutting down");
    const deadline = setTimeout(() => {
      logger.error({ timeout_ms: options.timeoutMs }, "shutdown did not finish in time; exiting");
      process.exit(1);
    }, options.timeoutMs);
    deadline.unref();
    options.stop().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
