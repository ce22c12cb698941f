// The Docker runtime's cgroup fast path: where dockerd puts its containers' cgroups (the cgroupfs
// driver's `docker/<id>`, the systemd driver's `system.slice/docker-<id>.scope`, or under the
// container's `--cgroup-parent`), and which process shows a container's network.
import type { Logger } from "@crowsnest/shared/agent";
import type { CgroupNaming, CgroupStatsReader } from "../../cgroup/cgroup-stats-reader.ts";
import { setUpCgroupReader } from "../../cgroup/file-reader-setup.ts";
import { containerCgroupCandidates } from "../../procfs/cgroup-layout.ts";
import { type ContainerProcess, hasOwnNetwork } from "./container-process.ts";

export const dockerCgroupNaming: CgroupNaming<ContainerProcess> = {
  cgroupCandidates: (id, process) => containerCgroupCandidates(id, process.cgroupParent),
  hasOwnNetwork: (process) => hasOwnNetwork(process.networkMode),
  pid: (process) => process.pid,
  defaultParents: [
    ["docker", /^([0-9a-f]{64})$/],
    ["system.slice", /^docker-([0-9a-f]{64})\.scope$/],
  ],
};

/** The cgroup reader for dockerd's containers when the host's cgroup filesystem is readable and wanted. */
export function setUpFileReader(options: {
  source: "auto" | "api";
  cgroupRoot: string;
  procRoot: string;
  logger: Logger;
}): CgroupStatsReader<ContainerProcess> | undefined {
  return setUpCgroupReader({ ...options, naming: dockerCgroupNaming, apiName: "Docker API" });
}
