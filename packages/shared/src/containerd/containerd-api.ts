// The part of containerd's gRPC API that Crowsnest reads, written here as the few messages and
// fields it uses (containerd 1.6+; field numbers are the API's, so every other field is skipped
// on decoding). Unary calls and the event stream only: Crowsnest never creates, changes or
// deletes anything in containerd; the one thing it sends is an event of its own, a probe that
// shows when its subscription is in place (containerd does not acknowledge one). The well-known types (Timestamp, Any, Empty) are declared with
// their standard numbers rather than loaded, so nothing is read from disk at run time.
import protobuf from "protobufjs";

const DEFINITIONS = `
syntax = "proto3";

package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message Any { string type_url = 1; bytes value = 2; }
message Empty {}
`;

const CONTAINERD = `
syntax = "proto3";

package containerd.services.version.v1;
message VersionResponse { string version = 1; string revision = 2; }
`;

const NAMESPACES = `
syntax = "proto3";
package containerd.services.namespaces.v1;
message Namespace { string name = 1; map<string, string> labels = 2; }
message ListNamespacesRequest { string filter = 1; }
message ListNamespacesResponse { repeated Namespace namespaces = 1; }
`;

const CONTAINERS = `
syntax = "proto3";
package containerd.services.containers.v1;
message Container {
  message Runtime { string name = 1; }
  string id = 1;
  map<string, string> labels = 2;
  string image = 3;
  Runtime runtime = 4;
  google.protobuf.Any spec = 5;
  google.protobuf.Timestamp created_at = 8;
  google.protobuf.Timestamp updated_at = 9;
}
message GetContainerRequest { string id = 1; }
message GetContainerResponse { Container container = 1; }
message ListContainersRequest { repeated string filters = 1; }
message ListContainersResponse { repeated Container containers = 1; }
`;

const TASKS = `
syntax = "proto3";
package containerd.v1.types;
enum Status { UNKNOWN = 0; CREATED = 1; RUNNING = 2; STOPPED = 3; PAUSED = 4; PAUSING = 5; }
message Process {
  string container_id = 1;
  string id = 2;
  uint32 pid = 3;
  Status status = 4;
  uint32 exit_status = 9;
  google.protobuf.Timestamp exited_at = 10;
}
`;

const TASK_SERVICE = `
syntax = "proto3";
package containerd.services.tasks.v1;
message GetRequest { string container_id = 1; string exec_id = 2; }
message GetResponse { containerd.v1.types.Process process = 1; }
message ListTasksRequest { string filter = 1; }
message ListTasksResponse { repeated containerd.v1.types.Process tasks = 1; }
message MetricsRequest { repeated string filters = 1; }
message MetricsResponse { repeated containerd.types.Metric metrics = 1; }
`;

const TYPES = `
syntax = "proto3";
package containerd.types;
message Metric { google.protobuf.Timestamp timestamp = 1; string id = 2; google.protobuf.Any data = 3; }
`;

const EVENTS = `
syntax = "proto3";
package containerd.services.events.v1;
message SubscribeRequest { repeated string filters = 1; }
message PublishRequest { string topic = 1; google.protobuf.Any event = 2; }
message Envelope {
  google.protobuf.Timestamp timestamp = 1;
  string namespace = 2;
  string topic = 3;
  google.protobuf.Any event = 4;
}
`;

/** Crowsnest's own event, published to learn that a subscription receives (see subscribeConfirmed). */
const PROBE = `
syntax = "proto3";
package crowsnest.containerd.v1;
message SubscriptionProbe { string nonce = 1; }
`;

/** The events Crowsnest turns into lifecycle events; their Any type URLs are "containerd.events.<Name>". */
const EVENT_PAYLOADS = `
syntax = "proto3";
package containerd.events;
message TaskCreate { string container_id = 1; uint32 pid = 6; }
message TaskStart { string container_id = 1; uint32 pid = 2; }
message TaskExit {
  string container_id = 1;
  string id = 2;
  uint32 pid = 3;
  uint32 exit_status = 4;
  google.protobuf.Timestamp exited_at = 5;
}
message TaskDelete {
  string container_id = 1;
  uint32 pid = 2;
  uint32 exit_status = 3;
  google.protobuf.Timestamp exited_at = 4;
  string id = 5;
}
message TaskOOM { string container_id = 1; }
message TaskPaused { string container_id = 1; }
message TaskResumed { string container_id = 1; }
message ContainerCreate { string id = 1; string image = 2; }
message ContainerUpdate { string id = 1; string image = 2; map<string, string> labels = 3; }
message ContainerDelete { string id = 1; }
`;

/** A task's cgroup statistics on a cgroup v1 host ("io.containerd.cgroups.v1.Metrics"). */
const CGROUPS_V1 = `
syntax = "proto3";
package io.containerd.cgroups.v1;
message Metrics {
  PidsStat pids = 2;
  CPUStat cpu = 3;
  MemoryStat memory = 4;
  BlkIOStat blkio = 5;
  MemoryOomControl memory_oom_control = 9;
}
message PidsStat { uint64 current = 1; uint64 limit = 2; }
message CPUStat { CPUUsage usage = 1; }
message CPUUsage { uint64 total = 1; uint64 kernel = 2; uint64 user = 3; }
message MemoryStat {
  uint64 cache = 1;
  uint64 rss = 2;
  uint64 total_cache = 18;
  uint64 total_rss = 19;
  uint64 total_inactive_file = 30;
  MemoryEntry usage = 33;
}
message MemoryEntry { uint64 limit = 1; uint64 usage = 2; uint64 max = 3; uint64 failcnt = 4; }
message MemoryOomControl { uint64 oom_kill_disable = 1; uint64 under_oom = 2; uint64 oom_kill = 3; }
message BlkIOStat { repeated BlkIOEntry io_service_bytes_recursive = 1; }
message BlkIOEntry { string op = 1; string device = 2; uint64 major = 3; uint64 minor = 4; uint64 value = 5; }
`;

/** A task's cgroup statistics on a cgroup v2 host ("io.containerd.cgroups.v2.Metrics"). */
const CGROUPS_V2 = `
syntax = "proto3";
package io.containerd.cgroups.v2;
message Metrics {
  PidsStat pids = 1;
  CPUStat cpu = 2;
  MemoryStat memory = 4;
  IOStat io = 6;
  MemoryEvents memory_events = 8;
}
message PidsStat { uint64 current = 1; uint64 limit = 2; }
message CPUStat { uint64 usage_usec = 1; uint64 user_usec = 2; uint64 system_usec = 3; }
message MemoryStat {
  uint64 anon = 1;
  uint64 file = 2;
  uint64 inactive_file = 13;
  uint64 usage = 32;
  uint64 usage_limit = 33;
}
message MemoryEvents { uint64 low = 1; uint64 high = 2; uint64 max = 3; uint64 oom = 4; uint64 oom_kill = 5; }
message IOStat { repeated IOEntry usage = 1; }
message IOEntry { uint64 major = 1; uint64 minor = 2; uint64 rbytes = 3; uint64 wbytes = 4; uint64 rios = 5; uint64 wios = 6; }
`;

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  for (const source of [
    DEFINITIONS,
    CONTAINERD,
    NAMESPACES,
    CONTAINERS,
    TASKS,
    TYPES,
    TASK_SERVICE,
    EVENTS,
    EVENT_PAYLOADS,
    PROBE,
    CGROUPS_V1,
    CGROUPS_V2,
  ]) {
    protobuf.parse(source, root, { keepCase: true });
  }
  root.resolveAll();
  return root;
}

export const containerdTypes: protobuf.Root = buildRoot();
