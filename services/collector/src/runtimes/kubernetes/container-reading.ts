// What one sample of one Kubernetes container is made of, whichever API it came from: the
// kubelet's Summary API gives all of it, metrics.k8s.io only CPU and memory.

/** The pod's network counters (one network namespace for all of the pod's containers). */
export interface PodNetworkReading {
  /** When the kubelet read the counters: epoch milliseconds. */
  readAtMs: number;
  rxBytes: number | null;
  txBytes: number | null;
}

export interface KubernetesContainerReading {
  /** When the counters were read: epoch milliseconds (the kubelet's `cpu.time`, or metrics' `timestamp`). */
  readAtMs: number;
  /** When this run of the container started; a different value than last time is a restart. */
  startedAtMs: number | null;
  /** The kubelet's own CPU rate over its last housekeeping interval, in nanocores (1e9 = one core). */
  usageNanoCores: number | null;
  /** CPU time used by this run of the container, in nanoseconds. */
  usageCoreNanoSeconds: number | null;
  /** Memory usage minus inactive file cache, in bytes: the kubelet's working set. */
  workingSetBytes: number | null;
  /** The pod's network, on the one container it is attributed to; null on the others and when unknown. */
  network: PodNetworkReading | null;
  /** The pod's process count, attributed like the network. */
  pids: number | null;
}
