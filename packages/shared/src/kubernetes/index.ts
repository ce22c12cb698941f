// @crowsnest/shared/kubernetes: the lean Kubernetes API client the watcher and collector use in
// Kubernetes mode. Its own entry point, so Docker mode never loads it.
export { KubeApiError, kubeApiErrorFromStatus, MALFORMED_RESPONSE } from "./kube-api-error.ts";
export {
  createKubeClient,
  type KubeClient,
  type KubeClientOptions,
  type Query,
  type QueryValue,
  type RequestOptions,
  WATCH_EVENT_TYPES,
  type WatchEvent,
  type WatchEventType,
  type WatchOptions,
} from "./kube-client.ts";
export {
  inClusterAccess,
  type KubeAccess,
  type KubeAccessSources,
  kubernetesHostName,
  loadKubeconfigFile,
  parseKubeconfig,
  resolveKubeAccess,
  SERVICE_ACCOUNT_DIRECTORY,
} from "./kube-config.ts";
export { parseQuantity } from "./quantity.ts";
