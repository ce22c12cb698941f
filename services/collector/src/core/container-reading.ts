// What a runtime adapter makes of one container at one moment: the runtime-neutral reading the
// sampling core turns into a stats message. Counters are cumulative, as the runtime reports them;
// the core computes every rate and percentage from two readings of the same container.
import type { ContainerRef, StatsMessage } from "@crowsnest/shared/agent";
import type { ContainerLimits } from "./container-limits.ts";

/**
 * The container's CPU use. `host`: cumulative CPU time measured against the host's own CPU time
 * (Docker's `system_cpu_usage`, so both ends of a delta come from one clock read together);
 * `wall`: cumulative CPU time over wall time, with the runtime's own rate where it has one.
 */
export type CpuReading =
  | {
      readonly clock: "host";
      /** CPU time this run of the container used, in nanoseconds. */
      readonly usageNs: number | null;
      /** CPU time of the whole host since boot, in nanoseconds, read with `usageNs`. */
      readonly hostNs: number | null;
    }
  | {
      readonly clock: "wall";
      /** CPU time this run of the container used, in nanoseconds. */
      readonly usageNs: number | null;
      /** The runtime's own CPU rate over its last interval, in nanocores (1e9 = one core). */
      readonly nanoCores: number | null;
    };

/** Network counters, with their own read time (a pod's network may be read apart from its containers). */
export interface NetworkReading {
  readonly readAtMs: number;
  readonly rxBytes: number | null;
  readonly txBytes: number | null;
}

export type StatsSource = NonNullable<StatsMessage["source"]>;

export interface ContainerReading {
  /** The container's id on the bus (the key of its previous reading) and its name. */
  readonly container: ContainerRef;
  /** The node the container runs on, for runtimes that span several; its readings are forgotten with it. */
  readonly node?: string;
  /** Which of the runtime's APIs the figures came from, when the runtime has several. */
  readonly source?: StatsSource;
  /** When the counters were read: epoch milliseconds. */
  readonly readAtMs: number;
  /** When this run of the container started, where the runtime says; a different value than last time is a restart. */
  readonly startedAtMs: number | null;
  /** The runtime knows this is a new run of the container (e.g. its start time changed in inspect). */
  readonly restarted: boolean;
  readonly cpu: CpuReading;
  /** The CPUs the container can see (the host's or node's count); null when unknown. */
  readonly onlineCpus: number | null;
  /** Memory used minus inactive file cache (the working set), in bytes. */
  readonly memUsedBytes: number | null;
  readonly limits: ContainerLimits;
  readonly network: NetworkReading | null;
  readonly blkReadBytes: number | null;
  readonly blkWriteBytes: number | null;
  readonly pids: number | null;
}
