// Reads a metrics.k8s.io PodMetricsList (`/apis/metrics.k8s.io/v1beta1/pods`), the fallback when
// the kubelet's Summary API cannot be reached. It has only each container's CPU rate (nanocores,
// averaged over metrics-server's window) and working set, as quantities; everything else stays
// unknown. Malformed entries are skipped with a problem noted, never fatal.
import { parseQuantity } from "@crowsnest/shared/kubernetes";
import { field, isJsonObject, path } from "@crowsnest/shared/util/json-fields";
import { parseEngineTime } from "../../core/engine-time.ts";
import { byteQuantity } from "./pod-facts.ts";

export interface MetricsContainer {
  name: string;
  usageNanoCores: number | null;
  workingSetBytes: number | null;
}

export interface MetricsPod {
  namespace: string;
  name: string;
  /** The end of metrics-server's window: when the figures were true. */
  readAtMs: number;
  containers: MetricsContainer[];
}

export type MetricsReadResult =
  | { ok: true; pods: MetricsPod[]; problems: string[] }
  | { ok: false; detail: string };

export function readPodMetricsList(raw: unknown): MetricsReadResult {
  const items = field(raw, "items");
  if (!isJsonObject(raw) || !Array.isArray(items)) {
    return { ok: false, detail: "pod metrics answer is not a list with `items`" };
  }
  const problems: string[] = [];
  const pods: MetricsPod[] = [];
  for (const [index, item] of (items as readonly unknown[]).entries()) {
    const namespace = path(item, "metadata", "namespace");
    const name = path(item, "metadata", "name");
    if (typeof namespace !== "string" || namespace === "" || typeof name !== "string" || name === "") {
      problems.push(`items[${index}] has no metadata namespace and name; skipped`);
      continue;
    }
    const readAtMs = parseEngineTime(field(item, "timestamp"));
    if (readAtMs === undefined || readAtMs <= 0) {
      problems.push(`${namespace}/${name} has no usable timestamp; skipped`);
      continue;
    }
    const containers: MetricsContainer[] = [];
    const rawContainers = field(item, "containers");
    for (const entry of Array.isArray(rawContainers) ? (rawContainers as readonly unknown[]) : []) {
      const containerName = field(entry, "name");
      if (typeof containerName !== "string" || containerName === "") {
        problems.push(`${namespace}/${name} has a container without a name; skipped`);
        continue;
      }
      const cores = parseQuantity(path(entry, "usage", "cpu"));
      containers.push({
        name: containerName,
        usageNanoCores: cores === null || cores < 0 ? null : Math.round(cores * 1e9),
        workingSetBytes: byteQuantity(path(entry, "usage", "memory")),
      });
    }
    pods.push({ namespace, name, readAtMs, containers });
  }
  return { ok: true, pods, problems };
}
