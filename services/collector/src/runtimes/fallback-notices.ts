// The two warnings of a runtime adapter that reads containers from their cgroup files and falls
// back to its runtime's API (Docker, containerd): some containers go through the API, some
// could not be sampled at all. Each is logged once when it starts and once when it ends, not
// every tick (the details of each container are at debug level).
import type { Logger } from "@crowsnest/shared/agent";
import { OutageLog } from "@crowsnest/shared/util/outage-log";

export interface TickOutcome {
  /** Running containers this tick. */
  containers: number;
  /** Containers the API sampled because their files could not be read; undefined without a file reader. */
  viaApi: number | undefined;
  /** Containers that could not be sampled at all. */
  failed: number;
}

export class FallbackNotices {
  readonly #viaApi: OutageLog;
  readonly #failed: OutageLog;

  constructor(options: { logger: Logger; apiName: string; unreadable: string }) {
    this.#viaApi = new OutageLog({
      logger: options.logger,
      failureMessage: `some containers are read through ${options.apiName} because their ${options.unreadable} are not readable (reasons at debug level)`,
      recoveryMessage: "every container read from its cgroup files again",
    });
    this.#failed = new OutageLog({
      logger: options.logger,
      failureMessage: "some containers could not be sampled and were skipped (details at debug level)",
      recoveryMessage: "every container sampled again",
    });
  }

  endTick(outcome: TickOutcome): void {
    const { containers, viaApi, failed } = outcome;
    if (viaApi !== undefined) {
      if (viaApi > 0) this.#viaApi.failed({ via_api: viaApi, containers });
      else this.#viaApi.succeeded();
    }
    if (failed > 0) this.#failed.failed({ failed, containers });
    else this.#failed.succeeded();
  }
}
