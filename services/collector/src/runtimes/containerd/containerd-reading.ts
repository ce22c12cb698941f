// What the containerd runtime knows of a container and how it becomes a reading: where runc put
// its cgroup (its OCI spec's linux.cgroupsPath, in the cgroupfs or the systemd driver's form),
// whether it has a network of its own, its limits, and the counters of one `Tasks.Metrics`
// answer (cgroup v1 or v2) turned into the same counters the cgroup files give.

import { join } from "node:path";
import type { ContainerRef } from "@crowsnest/shared/agent";
import {
  type CgroupV1Metrics,
  type CgroupV2Metrics,
  type ContainerdContainer,
  type ContainerdMetric,
  containerdContainerName,
  containerdExternalId,
  type OciSpec,
  ociLimits,
} from "@crowsnest/shared/containerd";
import { readingFromCounters, type StatsReading } from "../../cgroup/stats-counters.ts";
import type { ContainerLimits } from "../../core/container-limits.ts";
import type { ContainerReading } from "../../core/container-reading.ts";
import { runcCgroupDirectory } from "../../procfs/cgroup-layout.ts";

/** A container as the collector keeps it between its (occasional) container lists. */
export interface ContainerdRecord {
  readonly namespace: string;
  readonly id: string;
  /** Its id and name on the bus. */
  readonly ref: ContainerRef;
  readonly limits: ContainerLimits;
  /** Its cgroup directory, relative to each hierarchy's root. */
  readonly cgroupPath: string;
  /** False for host networking, or a network namespace joined from another process: no figures of its own. */
  readonly ownNetwork: boolean;
}

/** A running container: its record and its task's PID, as the cgroup reader takes them. */
export interface ContainerdProcess {
  readonly record: ContainerdRecord;
  readonly pid: number;
}

export function containerdRecord(namespace: string, container: ContainerdContainer): ContainerdRecord {
  const limits = ociLimits(container.spec);
  return {
    namespace,
    id: container.id,
    ref: {
      external_id: containerdExternalId(namespace, container.id),
      name: containerdContainerName(container),
    },
    limits: { memLimitBytes: limits.memLimitBytes, cpuLimitCores: limits.cpuLimitCores },
    cgroupPath: cgroupPathOf(namespace, container.id, container.spec),
    ownNetwork: hasOwnNetwork(container.spec),
  };
}

/**
 * The container's cgroup directory relative to a hierarchy's root, as runc derives it from
 * linux.cgroupsPath (runcCgroupDirectory). Without one, containerd's own default:
 * `/<namespace>/<id>`.
 */
export function cgroupPathOf(namespace: string, id: string, spec: OciSpec | undefined): string {
  const cgroupsPath = spec?.linux?.cgroupsPath ?? "";
  return cgroupsPath === "" ? join(namespace, id) : runcCgroupDirectory(cgroupsPath);
}

/**
 * Whether the container has a network namespace of its own: a `network` namespace in its spec
 * that it makes (no path) or that was made for it (a CNI netns under /var/run/netns); not one
 * joined through another process (`/proc/<pid>/ns/net`: nerdctl's `--network container:`), and
 * none at all is host networking.
 */
function hasOwnNetwork(spec: OciSpec | undefined): boolean {
  const network = spec?.linux?.namespaces?.find((namespace) => namespace.type === "network");
  if (network === undefined) return false;
  return network.path === undefined || network.path === "" || !network.path.startsWith("/proc/");
}

export type MetricsReadResult =
  | { readonly ok: true; readonly reading: StatsReading }
  | { readonly ok: false; readonly detail: string };

/** The counters of one `Tasks.Metrics` entry; network and the CPU count come from elsewhere. */
export function metricsReading(
  metric: ContainerdMetric,
  context: { onlineCpus: number | null; readAtMs: number },
): MetricsReadResult {
  const { cgroup } = metric;
  if (cgroup === undefined) return { ok: false, detail: "Metrics answered with an unknown statistics type" };
  const counters = cgroup.version === 1 ? v1Counters(cgroup) : v2Counters(cgroup);
  const timestamp = metric.timestamp;
  return {
    ok: true,
    reading: {
      // When containerd collected the figures; the caller's time when it does not say.
      readAtMs:
        timestamp === undefined
          ? context.readAtMs
          : timestamp.seconds * 1000 + Math.floor(timestamp.nanos / 1e6),
      cpuTotalNs: counters.cpuTotalNs,
      systemCpuNs: null,
      onlineCpus: context.onlineCpus,
      memUsedBytes: counters.memUsedBytes,
      netRxBytes: null,
      netTxBytes: null,
      blkReadBytes: counters.blkReadBytes,
      blkWriteBytes: counters.blkWriteBytes,
      pids: counters.pids,
    },
  };
}

interface Counters {
  cpuTotalNs: number | null;
  memUsedBytes: number | null;
  blkReadBytes: number | null;
  blkWriteBytes: number | null;
  pids: number | null;
}

/** Usage minus inactive file cache, floored at 0, as the cgroup files give it. */
function memUsed(usage: number | undefined, inactiveFile: number | undefined): number | null {
  if (usage === undefined) return null;
  return Math.max(0, usage - (inactiveFile ?? 0));
}

function v1Counters(metrics: CgroupV1Metrics): Counters {
  const entries = metrics.blkio?.io_service_bytes_recursive;
  // A blkio entry is one device and one operation; Sync, Async and Total would count twice.
  const sum = (op: string) =>
    entries === undefined
      ? null
      : entries.filter((entry) => entry.op === op).reduce((total, entry) => total + (entry.value ?? 0), 0);
  return {
    cpuTotalNs: metrics.cpu?.usage?.total ?? null,
    // The hierarchical total_inactive_file is the one usage includes (as the cgroup reader takes it).
    memUsedBytes: memUsed(metrics.memory?.usage?.usage, metrics.memory?.total_inactive_file),
    blkReadBytes: sum("Read"),
    blkWriteBytes: sum("Write"),
    pids: metrics.pids?.current ?? null,
  };
}

function v2Counters(metrics: CgroupV2Metrics): Counters {
  const devices = metrics.io?.usage;
  const sum = (pick: (entry: { rbytes?: number; wbytes?: number }) => number | undefined) =>
    devices === undefined ? null : devices.reduce((total, entry) => total + (pick(entry) ?? 0), 0);
  const usageUs = metrics.cpu?.usage_usec;
  return {
    cpuTotalNs: usageUs === undefined ? null : usageUs * 1000,
    memUsedBytes: memUsed(metrics.memory?.usage, metrics.memory?.inactive_file),
    blkReadBytes: sum((entry) => entry.rbytes),
    blkWriteBytes: sum((entry) => entry.wbytes),
    pids: metrics.pids?.current ?? null,
  };
}

/**
 * The runtime-neutral reading of a containerd container. CPU is measured over wall time, whichever
 * way the counters were read, so a container that changes way between two ticks keeps its CPU figure.
 */
export function containerdReading(
  record: ContainerdRecord,
  reading: StatsReading,
  /** Its task is not the one of the previous tick (another PID): a new run, whatever the counters say. */
  restarted: boolean,
): ContainerReading {
  return readingFromCounters(reading, {
    container: record.ref,
    restarted,
    cpu: { clock: "wall", usageNs: reading.cpuTotalNs, nanoCores: null },
    limits: record.limits,
  });
}
