// The part of the CRI (the kubelet's Container Runtime Interface, `runtime.v1`) that Crowsnest
// reads, written here as the few messages and fields it uses. Field numbers are the API's wire
// facts, so every other field is skipped on decoding. The same messages are declared a second
// time under `runtime.v1alpha2`, the package runtimes older than Kubernetes 1.23 serve: the
// fields Crowsnest reads kept their numbers from one to the other. Read calls only (version,
// sandbox and container lists, one container's status, stats, the event stream): Crowsnest
// never creates, stops or removes anything through the CRI.
import protobuf from "protobufjs";

/** The CRI packages Crowsnest speaks, newest first. */
export const CRI_API_VERSIONS = ["v1", "v1alpha2"] as const;
export type CriApiVersion = (typeof CRI_API_VERSIONS)[number];

const messages = (pkg: string): string => `
syntax = "proto3";
package runtime.${pkg};

message VersionRequest { string version = 1; }
message VersionResponse {
  string version = 1;
  string runtime_name = 2;
  string runtime_version = 3;
  string runtime_api_version = 4;
}

enum PodSandboxState { SANDBOX_READY = 0; SANDBOX_NOTREADY = 1; }
message PodSandboxMetadata { string name = 1; string uid = 2; string namespace = 3; uint32 attempt = 4; }
message PodSandbox {
  string id = 1;
  PodSandboxMetadata metadata = 2;
  PodSandboxState state = 3;
  int64 created_at = 4;
  map<string, string> labels = 5;
  map<string, string> annotations = 6;
  string runtime_handler = 7;
}
message ListPodSandboxRequest {}
message ListPodSandboxResponse { repeated PodSandbox items = 1; }

enum ContainerState { CONTAINER_CREATED = 0; CONTAINER_RUNNING = 1; CONTAINER_EXITED = 2; CONTAINER_UNKNOWN = 3; }
message ContainerMetadata { string name = 1; uint32 attempt = 2; }
message ImageSpec { string image = 1; }
message Container {
  string id = 1;
  string pod_sandbox_id = 2;
  ContainerMetadata metadata = 3;
  ImageSpec image = 4;
  string image_ref = 5;
  ContainerState state = 6;
  int64 created_at = 7;
  map<string, string> labels = 8;
  map<string, string> annotations = 9;
}
message ListContainersRequest {}
message ListContainersResponse { repeated Container containers = 1; }

message LinuxContainerResources {
  int64 cpu_period = 1;
  int64 cpu_quota = 2;
  int64 cpu_shares = 3;
  int64 memory_limit_in_bytes = 4;
}
message ContainerResources { LinuxContainerResources linux = 1; }
message ContainerStatus {
  string id = 1;
  ContainerMetadata metadata = 2;
  ContainerState state = 3;
  int64 created_at = 4;
  int64 started_at = 5;
  int64 finished_at = 6;
  int32 exit_code = 7;
  ImageSpec image = 8;
  string image_ref = 9;
  string reason = 10;
  string message = 11;
  map<string, string> labels = 12;
  map<string, string> annotations = 13;
  string log_path = 15;
  ContainerResources resources = 16;
}
message ContainerStatusRequest { string container_id = 1; bool verbose = 2; }
message ContainerStatusResponse { ContainerStatus status = 1; map<string, string> info = 2; }

message UInt64Value { uint64 value = 1; }
message ContainerAttributes {
  string id = 1;
  ContainerMetadata metadata = 2;
  map<string, string> labels = 3;
}
message CpuUsage { int64 timestamp = 1; UInt64Value usage_core_nano_seconds = 2; UInt64Value usage_nano_cores = 3; }
message MemoryUsage {
  int64 timestamp = 1;
  UInt64Value working_set_bytes = 2;
  UInt64Value available_bytes = 3;
  UInt64Value usage_bytes = 4;
  UInt64Value rss_bytes = 5;
}
message ContainerStats { ContainerAttributes attributes = 1; CpuUsage cpu = 2; MemoryUsage memory = 3; }
message ListContainerStatsRequest {}
message ListContainerStatsResponse { repeated ContainerStats stats = 1; }

message NetworkInterfaceUsage { string name = 1; UInt64Value rx_bytes = 2; UInt64Value tx_bytes = 4; }
message NetworkUsage { int64 timestamp = 1; NetworkInterfaceUsage default_interface = 2; repeated NetworkInterfaceUsage interfaces = 3; }
message PodSandboxAttributes { string id = 1; PodSandboxMetadata metadata = 2; }
message LinuxPodSandboxStats { NetworkUsage network = 3; }
message PodSandboxStats { PodSandboxAttributes attributes = 1; LinuxPodSandboxStats linux = 2; }
message ListPodSandboxStatsRequest {}
message ListPodSandboxStatsResponse { repeated PodSandboxStats stats = 1; }

enum ContainerEventType {
  CONTAINER_CREATED_EVENT = 0;
  CONTAINER_STARTED_EVENT = 1;
  CONTAINER_STOPPED_EVENT = 2;
  CONTAINER_DELETED_EVENT = 3;
}
message GetEventsRequest {}
message ContainerEventResponse { string container_id = 1; ContainerEventType container_event_type = 2; int64 created_at = 3; }
`;

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  for (const version of CRI_API_VERSIONS) protobuf.parse(messages(version), root, { keepCase: true });
  root.resolveAll();
  return root;
}

export const criTypes: protobuf.Root = buildRoot();
