// What the collector needs from the API server's pod and node objects, read structurally from
// their JSON: each container's limits (mem_limit, cpu_limit_cores), the pod's container order
// (which container the pod's network is attributed to) and node, and each node's capacity
// (online_cpus, the host's memory). A missing or malformed field leaves that one fact unknown.
import { parseQuantity } from "@crowsnest/shared/kubernetes";
import { field, isJsonObject, path } from "@crowsnest/shared/util/json-fields";
import type { ContainerLimits } from "../../core/container-limits.ts";

/** The annotation a static pod's mirror carries; its uid is not the one the kubelet reports. */
const MIRROR_ANNOTATION = "kubernetes.io/config.mirror";

export interface PodFacts {
  uid: string | null;
  nodeName: string | null;
  /** A static pod's mirror: the kubelet reports the pod under another uid. */
  mirror: boolean;
  /** `spec.hostNetwork`: the pod's network figures would be the node's. */
  hostNetwork: boolean;
  /** `spec.containers` names in spec order (init containers not included). */
  containerNames: string[];
  /** Limits of every container, init containers included; null where unlimited. */
  limits: ReadonlyMap<string, ContainerLimits>;
}

export interface NodeFacts {
  /** `status.capacity.cpu`, rounded up to whole CPUs; null when absent or not a quantity. */
  onlineCpus: number | null;
  /** `status.capacity.memory` in bytes. */
  memoryCapacityBytes: number | null;
}

/** `namespace/name`, the key pods are found by. */
export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The pods of a PodList, by `namespace/name`; items without a namespace and name are left out. */
export function podFactsFromList(list: unknown): Map<string, PodFacts> | undefined {
  const items = field(list, "items");
  if (!Array.isArray(items)) return undefined;
  const pods = new Map<string, PodFacts>();
  for (const item of items as readonly unknown[]) {
    const namespace = path(item, "metadata", "namespace");
    const name = path(item, "metadata", "name");
    if (typeof namespace !== "string" || typeof name !== "string") continue;
    pods.set(podKey(namespace, name), podFactsFrom(item));
  }
  return pods;
}

export function podFactsFrom(pod: unknown): PodFacts {
  const uid = path(pod, "metadata", "uid");
  const nodeName = path(pod, "spec", "nodeName");
  const annotations = path(pod, "metadata", "annotations");
  const containers = listOf(path(pod, "spec", "containers"));
  const limits = new Map<string, ContainerLimits>();
  for (const container of [...listOf(path(pod, "spec", "initContainers")), ...containers]) {
    const name = field(container, "name");
    if (typeof name === "string") limits.set(name, limitsFromSpec(container));
  }
  return {
    uid: typeof uid === "string" ? uid : null,
    nodeName: typeof nodeName === "string" && nodeName !== "" ? nodeName : null,
    mirror: isJsonObject(annotations) && MIRROR_ANNOTATION in annotations,
    hostNetwork: path(pod, "spec", "hostNetwork") === true,
    containerNames: containers
      .map((container) => field(container, "name"))
      .filter((name): name is string => typeof name === "string"),
    limits,
  };
}

/**
 * A container's `resources.limits`. Without a limit the container may use the node's capacity,
 * which is not passed off as a limit: null.
 */
export function limitsFromSpec(container: unknown): ContainerLimits {
  const limits = path(container, "resources", "limits");
  const memLimitBytes = byteQuantity(field(limits, "memory"));
  const cpuLimitCores = parseQuantity(field(limits, "cpu"));
  return {
    memLimitBytes: memLimitBytes !== null && memLimitBytes > 0 ? memLimitBytes : null,
    cpuLimitCores: cpuLimitCores !== null && cpuLimitCores > 0 ? cpuLimitCores : null,
  };
}

/** The nodes of a NodeList by name; undefined when the answer is not a list. */
export function nodeFactsFromList(list: unknown): Map<string, NodeFacts> | undefined {
  const items = field(list, "items");
  if (!Array.isArray(items)) return undefined;
  const nodes = new Map<string, NodeFacts>();
  for (const item of items as readonly unknown[]) {
    const name = path(item, "metadata", "name");
    if (typeof name === "string" && name !== "") nodes.set(name, nodeFactsFrom(item));
  }
  return nodes;
}

export function nodeFactsFrom(node: unknown): NodeFacts {
  const capacity = path(node, "status", "capacity");
  const cores = parseQuantity(field(capacity, "cpu"));
  const memory = byteQuantity(field(capacity, "memory"));
  return {
    onlineCpus: cores !== null && cores > 0 ? Math.ceil(cores) : null,
    memoryCapacityBytes: memory !== null && memory > 0 ? memory : null,
  };
}

function listOf(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? (value as readonly unknown[]) : [];
}

/** A memory quantity in whole bytes (fractions are rounded up, as the API server does), or null. */
export function byteQuantity(text: unknown): number | null {
  const value = parseQuantity(text);
  return value === null || value < 0 ? null : Math.ceil(value);
}
