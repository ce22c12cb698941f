// The seam between the collector's runtime-neutral sampling core and a container runtime: what a
// runtime adapter (runtimes/<name>/) implements, and what the core hands it for each tick. The
// adapter only reads its runtime and turns each container into a ContainerReading; the core owns
// the schedule, the previous readings, restart detection, rates, the messages and their outcomes.
import type { HostStatsMessage, Runtime } from "@crowsnest/shared/agent";
import type { ContainerReading } from "./container-reading.ts";

/** A container the adapter could not turn into a reading this tick. */
export interface Skipped {
  /** failed: timeout, runtime error, unusable answer; gone: stopped or removed since it was listed. */
  readonly skipped: "failed" | "gone";
  /**
   * A reading of its counters that could not be completed (its limits could not be read): it is
   * not published, but serves as the container's previous reading, so the next sample has rates.
   */
  readonly reading?: ContainerReading;
}

/** One container's result: ready now, or once the adapter has finished it (e.g. after a restart). */
export type Readout = ContainerReading | Skipped | Promise<ContainerReading | Skipped>;

/** What a tick's outcomes were, as the core counted them. */
export interface SampleCounts {
  published: number;
  /** Samples the sink refused: the bus did not take them, or they failed validation. */
  unpublished: number;
  /** Readings no newer than the previous one (runtimes whose readings repeat): not published again. */
  unchanged: number;
  /** Containers that could not be sampled: timeout, runtime error, unusable answer. */
  failed: number;
  /** Containers that stopped or were removed between the list and their reading. */
  gone: number;
}

/** What the core offers an adapter during one tick. */
export interface SamplingTick {
  /** True once the collector is stopping: start no new runtime calls. */
  readonly stopping: boolean;
  /** The outcomes counted so far this tick. */
  readonly counts: Readonly<SampleCounts>;
  /** The container's previous reading (by its bus id), if the core holds one. */
  previous(id: string): ContainerReading | undefined;
  /**
   * Builds and hands to the sink every reading that is ready, without awaiting in between (so the
   * bus client sends them in one write), tells the sink the batch is complete, then waits for the
   * rest and counts every outcome.
   */
  publish(readouts: readonly Readout[]): Promise<void>;
  /** Forgets the previous readings of the containers for which `keep` is false (gone, or their node gone). */
  retain(keep: (reading: ContainerReading) => boolean): void;
  /** Hands a host sample to the host sink; whether it was taken. */
  publishHost(message: HostStatsMessage): boolean;
}

/**
 * A container runtime as the sampling core sees it. `Detail` is what the adapter says about its
 * own tick (reachability, read paths, nodes), merged into the tick summary and its debug line.
 */
export interface StatsRuntime<Detail extends object> {
  /** The runtime every sample names. */
  readonly runtime: Runtime;
  /**
   * The runtime reads containers on its own schedule (the kubelet's housekeeping), so a reading
   * no newer than the previous one is the same reading again and is not published twice.
   */
  readonly repeatsReadings: boolean;
  /** Whether the runtime answered the last tick: the heartbeat's `connected`. */
  readonly connected: boolean;
  /** One pass over the runtime's containers; expected failures are its own business. */
  sample(tick: SamplingTick): Promise<Detail>;
  /** The adapter's fields of the per-tick debug line. */
  describe(detail: Detail): Record<string, unknown>;
}
