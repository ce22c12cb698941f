// The CRI (Container Runtime Interface) as the cri runtime reads it (loaded only in cri mode).
export {
  CRI_API_VERSIONS,
  type CriApiVersion,
  CriClient,
  type CriContainer,
  type CriContainerEvent,
  type CriContainerEventType,
  type CriContainerState,
  type CriContainerStats,
  type CriContainerStatus,
  type CriLinuxResources,
  type CriNetworkInterfaceUsage,
  type CriPodSandbox,
  type CriPodSandboxStats,
  type CriRuntimeVersion,
  type CriSandboxState,
  isCriNotFound,
  isUnimplemented,
} from "./cri-client.ts";
export { CriSocketNotFoundError, DEFAULT_CRI_SOCKETS, openCriClient } from "./cri-socket.ts";
