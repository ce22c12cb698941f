// The one lifecycle every service has: `runService(name, main)` runs `main`; a startup failure
// (bad config, bus, streams, database) logs one JSON fatal line and exits 1, never a raw stack.
// What `main` opens it hands to `defer` as it goes; on the first SIGTERM or SIGINT those
// cleanups run in reverse order (the last thing opened is released first), under a hard
// deadline, and the process exits 0. A second signal exits at once. A dependency lost for good
// while running (`exitWhenLost`) also ends the process with one fatal line and exit 1.
import { ConfigError, NatsSetupError } from "../errors/crowsnest-error.ts";
import { createJsonLineLogger } from "../log/json-line-logger.ts";
import type { Logger } from "../log/logger.ts";

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

interface Cleanup {
  what: string;
  run: () => unknown;
}

export class ServiceLifecycle {
  readonly #service: string;
  readonly #cleanups: Cleanup[] = [];
  #logger: Logger;
  #timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS;
  #stopping = false;
  readonly #stopRequested: Promise<void>;
  #requestStop: () => void = () => {};

  constructor(service: string) {
    this.#service = service;
    this.#logger = createJsonLineLogger({ service, level: "info" });
    this.#stopRequested = new Promise((resolve) => {
      this.#requestStop = resolve;
    });
  }

  /** The logger and shutdown budget from the service's config, once it is read. */
  configure(options: { logger: Logger; shutdownTimeoutMs: number }): void {
    this.#logger = options.logger;
    this.#timeoutMs = options.shutdownTimeoutMs;
  }

  get logger(): Logger {
    return this.#logger;
  }

  /** True once a shutdown signal came: startup loops give up instead of retrying. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Resolves when a shutdown signal comes. */
  get stopRequested(): Promise<void> {
    return this.#stopRequested;
  }

  /** Registers a cleanup; cleanups run in reverse order of registration. */
  defer(what: string, run: () => unknown): void {
    this.#cleanups.push({ what, run });
  }

  /**
   * Exits 1 with one fatal line when `lost` settles while the service is not stopping: for a
   * dependency gone for good, such as a NATS connection closed after its client gave up
   * reconnecting, which only a restart by the supervisor recovers.
   */
  exitWhenLost(what: string, lost: Promise<unknown>): void {
    const onLost = (reason: unknown): void => {
      if (this.#stopping) return;
      if (reason instanceof NatsSetupError) {
        // As at start: the code, and what to fix, not a stack.
        this.#logger.fatal(
          { code: reason.code },
          `${what} refused for good: ${reason.message}; exiting so that ${this.#service} is restarted`,
        );
      } else {
        this.#logger.fatal(
          reason instanceof Error ? { err: reason } : {},
          `${what} closed for good; exiting so that ${this.#service} is restarted`,
        );
      }
      process.exit(1);
    };
    lost.then(onLost, onLost);
  }

  /** Installs the signal handlers; `runService` calls it before `main`. */
  listen(): void {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.#stopping) {
        this.#logger.warn({ signal }, "second signal during shutdown; exiting now");
        process.exit(1);
      }
      this.#stopping = true;
      this.#requestStop();
      this.#logger.info({ signal, timeout_ms: this.#timeoutMs }, "shutting down");
      const deadline = setTimeout(() => {
        this.#logger.error({ timeout_ms: this.#timeoutMs }, "shutdown did not finish in time; exiting");
        process.exit(1);
      }, this.#timeoutMs);
      deadline.unref();
      void this.releaseAll().then((clean) => {
        if (clean) this.#logger.info("stopped");
        process.exit(clean ? 0 : 1);
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }

  /** Runs every cleanup once, newest first; a failing one is logged and the rest still run. */
  async releaseAll(): Promise<boolean> {
    let clean = true;
    for (let cleanup = this.#cleanups.pop(); cleanup !== undefined; cleanup = this.#cleanups.pop()) {
      try {
        await cleanup.run();
      } catch (error) {
        clean = false;
        this.#logger.error({ err: error, resource: cleanup.what }, "could not release a resource");
      }
    }
    return clean;
  }

  /** Logs why the service cannot run, as one fatal line, and exits 1. */
  fail(error: unknown): never {
    // These say what to fix; a stack would only bury it.
    if (error instanceof ConfigError || error instanceof NatsSetupError) {
      this.#logger.fatal({ code: error.code }, error.message);
    } else {
      this.#logger.fatal({ err: error }, `${this.#service} failed`);
    }
    process.exit(1);
  }
}

/** Runs a service's `main` with signal handling and the one-fatal-line rule for failures. */
export function runService(service: string, main: (lifecycle: ServiceLifecycle) => Promise<void>): void {
  const lifecycle = new ServiceLifecycle(service);
  lifecycle.listen();
  main(lifecycle).catch((error: unknown) => lifecycle.fail(error));
}
