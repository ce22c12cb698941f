// containerd's gRPC API as the containerd runtime reads it (loaded only in containerd mode).
export {
  type CgroupV1Metrics,
  type CgroupV2Metrics,
  ContainerdClient,
  type ContainerdClientOptions,
  type ContainerdContainer,
  type ContainerdEvent,
  type ContainerdMetric,
  type ContainerdTask,
  type ContainerdTimestamp,
  isNotFound,
  type OciSpec,
  SUBSCRIPTION_PROBE_TOPIC,
  SUBSCRIPTION_PROBE_TYPE,
  type TaskStatus,
} from "./containerd-client.ts";
export {
  containerdContainerName,
  containerdExternalId,
  DEFAULT_CONTAINERD_NAMESPACE,
  NERDCTL_NAME_LABEL,
  type OciLimits,
  ociLimits,
} from "./containerd-identity.ts";
