// Reads the kubelet's Summary API answer (`/stats/summary`, stats/v1alpha1) into readings. The
// answer comes from outside: every field is checked, a pod or container that cannot be read is
// skipped with a problem noted, and the rest is still read. Only an answer that is not an object
// at all is rejected.
import { counter, field, isJsonObject, path, sumCounters } from "@crowsnest/shared/util/json-fields";
import { parseEngineTime } from "../../core/engine-time.ts";
import type { PodNetworkReading } from "./container-reading.ts";

export interface SummaryContainer {
  name: string;
  /** `cpu.time`, else `memory.time`: when the kubelet read this container. */
  readAtMs: number;
  startedAtMs: number | null;
  usageNanoCores: number | null;
  usageCoreNanoSeconds: number | null;
  workingSetBytes: number | null;
}

export interface SummaryPod {
  namespace: string;
  name: string;
  uid: string | null;
  containers: SummaryContainer[];
  /** Every interface of the pod summed (like Docker sums a container's networks); null: none reported. */
  network: PodNetworkReading | null;
  /** `process_stats.process_count`: the processes in the pod's cgroup. */
  processCount: number | null;
}

export interface SummaryNode {
  nodeName: string | null;
  /** `cpu.time`, else `memory.time`; null when neither is usable. */
  readAtMs: number | null;
  usageNanoCores: number | null;
  usageCoreNanoSeconds: number | null;
  memoryAvailableBytes: number | null;
  memoryWorkingSetBytes: number | null;
}

export interface SummaryReading {
  node: SummaryNode | null;
  pods: SummaryPod[];
  /** What could not be read (a pod or container skipped, a section missing), for the log. */
  problems: string[];
}

export type SummaryReadResult = { ok: true; reading: SummaryReading } | { ok: false; detail: string };

/** When this collector sent the summary request and when the answer arrived (its own clock, epoch ms). */
export interface RequestWindow {
  sentAtMs: number;
  answeredAtMs: number;
}

/**
 * The kubelet writes its read times to the second (`metav1.Time`), so a rate over two of them can
 * be off by up to a second per interval. A whole-second time whose second overlaps the request's
 * own window was read while the collector waited (the kubelet's CRI stats provider asks the
 * runtime on each request): the overlap pins it to within half of it. A time outside the window
 * (a cached reading, as cAdvisor's) stays as the kubelet wrote it.
 */
export function narrowReadTime(readAtMs: number, asked: RequestWindow | undefined): number {
  if (asked === undefined || readAtMs % 1000 !== 0) return readAtMs;
  const from = Math.max(readAtMs, asked.sentAtMs);
  const to = Math.min(readAtMs + 999, asked.answeredAtMs);
  return from <= to ? Math.round((from + to) / 2) : readAtMs;
}

/** `asked`: the request's window, to narrow the kubelet's whole-second read times (narrowReadTime). */
export function readSummary(raw: unknown, asked?: RequestWindow): SummaryReadResult {
  if (!isJsonObject(raw)) return { ok: false, detail: "summary is not a JSON object" };
  const problems: string[] = [];
  const node = readNode(raw.node, problems);
  const pods: SummaryPod[] = [];
  if (Array.isArray(raw.pods)) {
    for (const [index, entry] of (raw.pods as readonly unknown[]).entries()) {
      const pod = readPod(entry, index, problems, asked);
      if (pod) pods.push(pod);
    }
  } else if (raw.pods !== undefined && raw.pods !== null) {
    problems.push("`pods` is not a list");
  }
  return { ok: true, reading: { node, pods, problems } };
}

function readNode(raw: unknown, problems: string[]): SummaryNode | null {
  if (!isJsonObject(raw)) {
    problems.push("no `node` section");
    return null;
  }
  const nodeName = typeof raw.nodeName === "string" && raw.nodeName !== "" ? raw.nodeName : null;
  const readAtMs = readTime(raw.cpu, raw.memory);
  if (readAtMs === null) problems.push("node section without a usable `cpu.time` or `memory.time`");
  return {
    nodeName,
    readAtMs,
    usageNanoCores: counter(field(raw.cpu, "usageNanoCores")),
    usageCoreNanoSeconds: counter(field(raw.cpu, "usageCoreNanoSeconds")),
    memoryAvailableBytes: counter(field(raw.memory, "availableBytes")),
    memoryWorkingSetBytes: counter(field(raw.memory, "workingSetBytes")),
  };
}

function readPod(
  raw: unknown,
  index: number,
  problems: string[],
  asked: RequestWindow | undefined,
): SummaryPod | undefined {
  const namespace = path(raw, "podRef", "namespace");
  const name = path(raw, "podRef", "name");
  if (typeof namespace !== "string" || namespace === "" || typeof name !== "string" || name === "") {
    problems.push(`pods[${index}] has no podRef namespace and name; skipped`);
    return undefined;
  }
  const uid = path(raw, "podRef", "uid");
  const containers: SummaryContainer[] = [];
  const rawContainers = field(raw, "containers");
  if (Array.isArray(rawContainers)) {
    for (const [containerIndex, entry] of (rawContainers as readonly unknown[]).entries()) {
      const container = readContainer(entry, asked);
      if (typeof container === "string") {
        problems.push(`${namespace}/${name} containers[${containerIndex}]: ${container}; skipped`);
      } else {
        containers.push(container);
      }
    }
  }
  return {
    namespace,
    name,
    uid: typeof uid === "string" && uid !== "" ? uid : null,
    containers,
    network: readNetwork(field(raw, "network"), asked),
    processCount: counter(path(raw, "process_stats", "process_count")),
  };
}

/** The container, or why it cannot be read. */
function readContainer(raw: unknown, asked: RequestWindow | undefined): SummaryContainer | string {
  const name = field(raw, "name");
  if (typeof name !== "string" || name === "") return "no name";
  const cpu = field(raw, "cpu");
  const memory = field(raw, "memory");
  const readAtMs = readTime(cpu, memory);
  // Without a read time no timestamp, interval or rate can be right (as with Docker's `read`).
  if (readAtMs === null) return `${name} has no usable cpu.time or memory.time`;
  return {
    name,
    readAtMs: narrowReadTime(readAtMs, asked),
    startedAtMs: parseEngineTime(field(raw, "startTime")) ?? null,
    usageNanoCores: counter(field(cpu, "usageNanoCores")),
    usageCoreNanoSeconds: counter(field(cpu, "usageCoreNanoSeconds")),
    workingSetBytes: counter(field(memory, "workingSetBytes")),
  };
}

function readTime(cpu: unknown, memory: unknown): number | null {
  const readAtMs = parseEngineTime(field(cpu, "time")) ?? parseEngineTime(field(memory, "time"));
  return readAtMs !== undefined && readAtMs > 0 ? readAtMs : null;
}

function readNetwork(raw: unknown, asked: RequestWindow | undefined): PodNetworkReading | null {
  if (!isJsonObject(raw)) return null;
  const writtenAtMs = parseEngineTime(raw.time);
  if (writtenAtMs === undefined || writtenAtMs <= 0) return null;
  const readAtMs = narrowReadTime(writtenAtMs, asked);
  const interfaces = Array.isArray(raw.interfaces) ? (raw.interfaces as readonly unknown[]) : [];
  if (interfaces.length > 0) {
    // `rxBytes`/`txBytes` at the top are the default interface (eth0) only; the list has them all.
    // A partial sum would be a wrong number: null as soon as one interface lacks a counter.
    return {
      readAtMs,
      rxBytes: sumCounters(interfaces.map((nic) => field(nic, "rxBytes"))),
      txBytes: sumCounters(interfaces.map((nic) => field(nic, "txBytes"))),
    };
  }
  const rxBytes = counter(raw.rxBytes);
  const txBytes = counter(raw.txBytes);
  return rxBytes === null && txBytes === null ? null : { readAtMs, rxBytes, txBytes };
}
