// Decides at start whether the cgroup fast path can be used on this host, and says which way
// container stats will be read: one info line an operator can find in the start-up logs.
import type { Logger } from "@crowsnest/shared/agent";
import { detectCgroupLayout } from "../procfs/cgroup-layout.ts";
import { type CgroupNaming, CgroupStatsReader } from "./cgroup-stats-reader.ts";

export interface FileReaderSetupOptions<Process> {
  source: "auto" | "api";
  cgroupRoot: string;
  procRoot: string;
  /** Where the runtime puts its containers' cgroups. */
  naming: CgroupNaming<Process>;
  /** The runtime's stats API, as the log lines name it (e.g. "Docker API"). */
  apiName: string;
  logger: Logger;
}

/** The cgroup reader when the host's cgroup filesystem is readable and wanted; undefined otherwise. */
export function setUpCgroupReader<Process>(
  options: FileReaderSetupOptions<Process>,
): CgroupStatsReader<Process> | undefined {
  const { logger, apiName } = options;
  if (options.source === "api") {
    logger.info(
      { stats_source: "api" },
      `container stats: ${apiName} for every container (CROWSNEST_STATS_SOURCE=api)`,
    );
    return undefined;
  }
  const detected = detectCgroupLayout(options.cgroupRoot);
  if (!detected.ok) {
    logger.warn(
      { stats_source: "api", cgroup_root: options.cgroupRoot, reason: detected.reason },
      `container stats: cgroup files not readable; ${apiName} for every container (mount the host's cgroup filesystem and set CROWSNEST_CGROUP_ROOT for the fast path)`,
    );
    return undefined;
  }
  logger.info(
    {
      stats_source: "cgroup",
      cgroup_version: detected.layout.version,
      cgroup_root: options.cgroupRoot,
      proc_root: options.procRoot,
    },
    `container stats: cgroup files and /proc/<pid>/net/dev, ${apiName} for containers whose files are not readable`,
  );
  return new CgroupStatsReader({
    layout: detected.layout,
    naming: options.naming,
    procRoot: options.procRoot,
  });
}
