// How a containerd container appears on the bus, the same for the collector and the watcher:
// its id is unique only within its namespace, so outside `default` the namespace is part of it;
// its name is the one nerdctl gave it (the `nerdctl/name` label), else its id. And its limits,
// read from its OCI spec as runc applies them.
import type { ContainerdContainer, OciSpec } from "./containerd-client.ts";

/** The namespace nerdctl and ctr use unless told otherwise: its containers keep their bare ids. */
export const DEFAULT_CONTAINERD_NAMESPACE = "default";

/** The label nerdctl keeps a container's name in. */
export const NERDCTL_NAME_LABEL = "nerdctl/name";

/** The container's `external_id` on the bus: its id, prefixed by its namespace outside `default`. */
export function containerdExternalId(namespace: string, id: string): string {
  return namespace === DEFAULT_CONTAINERD_NAMESPACE ? id : `${namespace}/${id}`;
}

/** The container's name on the bus: nerdctl's name for it, else its id. */
export function containerdContainerName(container: Pick<ContainerdContainer, "id" | "labels">): string {
  const name = container.labels[NERDCTL_NAME_LABEL];
  return name === undefined || name === "" ? container.id : name;
}

export interface OciLimits {
  /** Null: no memory limit. */
  memLimitBytes: number | null;
  /** CPU quota over its period, in cores; null: no CPU limit. */
  cpuLimitCores: number | null;
  /** Null: no pids limit. */
  pidsLimit: number | null;
}

/** The CFS period the kernel uses when the spec gives a quota without one, in microseconds. */
const DEFAULT_CFS_PERIOD_US = 100_000;

/** A memory limit this high is "unlimited" written as a number (the cgroup's 2^63 - 4096, say). */
const UNLIMITED_BYTES = 2 ** 62;

/** The container's limits as its OCI spec sets them; 0, -1, absent and "unlimited" mean "no limit". */
export function ociLimits(spec: OciSpec | undefined): OciLimits {
  const resources = spec?.linux?.resources;
  const positive = (value: unknown): number | null =>
    typeof value === "number" && Number.isFinite(value) && value > 0 ? value : null;
  const quotaUs = positive(resources?.cpu?.quota);
  const periodUs = positive(resources?.cpu?.period) ?? DEFAULT_CFS_PERIOD_US;
  const memory = positive(resources?.memory?.limit);
  const pids = positive(resources?.pids?.limit);
  return {
    memLimitBytes: memory !== null && memory < UNLIMITED_BYTES ? memory : null,
    cpuLimitCores: quotaUs === null ? null : quotaUs / periodUs,
    pidsLimit: pids !== null && Number.isSafeInteger(pids) ? pids : null,
  };
}
