// What each runtime folder gives the composition root: how to reach the runtime, and its adapter
// for the sampling core once the bus is up.
import type { Logger } from "@crowsnest/shared/agent";
import type { StatsRuntime } from "../core/stats-runtime.ts";

/** A runtime reached and named. */
export interface PreparedRuntime {
  /** The host name every message carries. */
  host: string;
  /** What the start line says about the runtime. */
  describe: Record<string, unknown>;
  /** The version of the runtime's API in use, for the heartbeat, once settled; absent: none to tell. */
  runtimeApiVersion?: () => string | undefined;
  /**
   * Where host samples come from: the host's own /proc (host/host-stats-collector.ts), the
   * runtime's tick (a Kubernetes node's summary), or nowhere (a whole cluster has no load average).
   */
  hostStats: "procfs" | "runtime" | "none";
  /** The runtime's adapter, logging with the service's logger. */
  createStatsRuntime(logger: Logger): StatsRuntime<object>;
  /** Releases what the runtime holds (connections) once sampling has stopped. */
  close(): void;
}

/** What every runtime module reads of the collector's config besides its own variant. */
export interface RuntimeModuleSettings {
  /** Undefined: the host name the runtime reports (or the Kubernetes node name). */
  hostName: string | undefined;
  /** How many containers (or nodes' summaries) are read at once. */
  collectConcurrency: number;
  /** Where the host's /proc is visible. */
  procRoot: string;
}
