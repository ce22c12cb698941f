// The CRI's write calls, for the tests only: pod sandboxes and containers made, started, stopped
// and removed the way the kubelet does it, against the tests' own containerd (CRI plugin on).
// No service imports this module: the services' CriClient has read calls alone. The messages
// are the few fields the tests set, declared here with the API's field numbers (runtime.v1).
import { readdir, rmdir } from "node:fs/promises";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";

const DEFINITIONS = `
syntax = "proto3";
package crowsnest.tests.cri;

message PodSandboxMetadata { string name = 1; string uid = 2; string namespace = 3; uint32 attempt = 4; }
message NamespaceOption { int32 network = 1; int32 pid = 2; int32 ipc = 3; }
message LinuxSandboxSecurityContext { NamespaceOption namespace_options = 1; }
message LinuxPodSandboxConfig { string cgroup_parent = 1; LinuxSandboxSecurityContext security_context = 2; }
message PodSandboxConfig {
  PodSandboxMetadata metadata = 1;
  string hostname = 2;
  string log_directory = 3;
  map<string, string> labels = 6;
  map<string, string> annotations = 7;
  LinuxPodSandboxConfig linux = 8;
}
message RunPodSandboxRequest { PodSandboxConfig config = 1; string runtime_handler = 2; }
message RunPodSandboxResponse { string pod_sandbox_id = 1; }
message PodSandboxIdRequest { string pod_sandbox_id = 1; }
message Empty {}

message ContainerMetadata { string name = 1; uint32 attempt = 2; }
message ImageSpec { string image = 1; }
message LinuxContainerResources {
  int64 cpu_period = 1;
  int64 cpu_quota = 2;
  int64 cpu_shares = 3;
  int64 memory_limit_in_bytes = 4;
}
message LinuxContainerConfig { LinuxContainerResources resources = 1; }
message ContainerConfig {
  ContainerMetadata metadata = 1;
  ImageSpec image = 2;
  repeated string command = 3;
  repeated string args = 4;
  map<string, string> labels = 9;
  map<string, string> annotations = 10;
  string log_path = 11;
  LinuxContainerConfig linux = 15;
}
message CreateContainerRequest { string pod_sandbox_id = 1; ContainerConfig config = 2; PodSandboxConfig sandbox_config = 3; }
message CreateContainerResponse { string container_id = 1; }
message ContainerIdRequest { string container_id = 1; }
message StopContainerRequest { string container_id = 1; int64 timeout = 2; }
`;

const root = protobuf.parse(DEFINITIONS, { keepCase: true }).root;
const type = (name: string): protobuf.Type => root.lookupType(`crowsnest.tests.cri.${name}`);

export interface TestPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** Where the pod's container logs go (the kubelet's /var/log/pods/<namespace>_<name>_<uid>). */
  readonly logDirectory: string;
  readonly labels?: Record<string, string>;
}

export interface TestContainer {
  readonly name: string;
  readonly attempt: number;
  readonly image: string;
  readonly command: readonly string[];
  readonly memoryLimitBytes?: number;
  /** CPU limit in cores (quota over a 100 ms period). */
  readonly cpuLimitCores?: number;
}

/**
 * The cgroup every test pod goes under, as the kubelet puts each pod under kubepods: containerd
 * 1.6 cannot report a sandbox's stats without one (and then fails ListPodSandboxStats as a whole).
 */
const TEST_CGROUP_PARENT = "/crowsnest-cri-test";
const CGROUP_ROOT = "/sys/fs/cgroup";

const podCgroup = (uid: string): string => `${TEST_CGROUP_PARENT}/pod${uid.replaceAll("-", "_")}`;

/** Removes a removed pod's cgroup directories (empty by then) in every hierarchy; best effort. */
async function removePodCgroup(uid: string): Promise<void> {
  const relative = podCgroup(uid).slice(1);
  const hierarchies = await readdir(CGROUP_ROOT).catch(() => [] as string[]);
  for (const directory of [
    join(CGROUP_ROOT, relative),
    ...hierarchies.map((name) => join(CGROUP_ROOT, name, relative)),
  ]) {
    await rmdir(directory).catch(() => undefined);
  }
}

export class CriTestDriver {
  readonly #client: grpc.Client;
  /** Each sandbox's pod uid, for its cgroup once it is removed. */
  readonly #podUids = new Map<string, string>();

  constructor(socketPath: string) {
    this.#client = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure());
  }

  close(): void {
    this.#client.close();
  }

  #sandboxConfig(pod: TestPod, attempt: number): object {
    return {
      metadata: { name: pod.name, uid: pod.uid, namespace: pod.namespace, attempt },
      hostname: pod.name.slice(0, 63),
      log_directory: pod.logDirectory,
      labels: {
        ...pod.labels,
        "io.kubernetes.pod.name": pod.name,
        "io.kubernetes.pod.namespace": pod.namespace,
        "io.kubernetes.pod.uid": pod.uid,
      },
      // The pod's own network namespace (POD = 0), as every ordinary pod.
      linux: {
        cgroup_parent: podCgroup(pod.uid),
        security_context: { namespace_options: { network: 0, pid: 1, ipc: 0 } },
      },
    };
  }

  /** Runs a pod sandbox; its id. */
  async runPodSandbox(pod: TestPod, attempt = 0): Promise<string> {
    const response = await this.#call("RunPodSandbox", "RunPodSandboxRequest", "RunPodSandboxResponse", {
      config: this.#sandboxConfig(pod, attempt),
    });
    const id = String(response.pod_sandbox_id);
    this.#podUids.set(id, pod.uid);
    return id;
  }

  /** Creates a container in the sandbox, its log at `<name>/<attempt>.log` as the kubelet names it; its id. */
  async createContainer(sandboxId: string, pod: TestPod, container: TestContainer): Promise<string> {
    const resources: Record<string, number> = {};
    if (container.memoryLimitBytes !== undefined)
      resources.memory_limit_in_bytes = container.memoryLimitBytes;
    if (container.cpuLimitCores !== undefined) {
      resources.cpu_period = 100_000;
      resources.cpu_quota = Math.round(container.cpuLimitCores * 100_000);
    }
    const response = await this.#call(
      "CreateContainer",
      "CreateContainerRequest",
      "CreateContainerResponse",
      {
        pod_sandbox_id: sandboxId,
        config: {
          metadata: { name: container.name, attempt: container.attempt },
          image: { image: container.image },
          command: [...container.command],
          labels: {
            "io.kubernetes.container.name": container.name,
            "io.kubernetes.pod.name": pod.name,
            "io.kubernetes.pod.namespace": pod.namespace,
            "io.kubernetes.pod.uid": pod.uid,
          },
          log_path: `${container.name}/${container.attempt}.log`,
          linux: { resources },
        },
        sandbox_config: this.#sandboxConfig(pod, 0),
      },
    );
    return String(response.container_id);
  }

  async startContainer(id: string): Promise<void> {
    await this.#call("StartContainer", "ContainerIdRequest", "Empty", { container_id: id });
  }

  async stopContainer(id: string, timeoutSeconds = 0): Promise<void> {
    await this.#call("StopContainer", "StopContainerRequest", "Empty", {
      container_id: id,
      timeout: timeoutSeconds,
    });
  }

  async removeContainer(id: string): Promise<void> {
    await this.#call("RemoveContainer", "ContainerIdRequest", "Empty", { container_id: id });
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.#call("StopPodSandbox", "PodSandboxIdRequest", "Empty", { pod_sandbox_id: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.#call("RemovePodSandbox", "PodSandboxIdRequest", "Empty", { pod_sandbox_id: id });
    const uid = this.#podUids.get(id);
    if (uid !== undefined) await removePodCgroup(uid);
  }

  #call(
    method: string,
    requestType: string,
    responseType: string,
    request: object,
  ): Promise<Record<string, unknown>> {
    const requestMessage = type(requestType);
    const responseMessage = type(responseType);
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        `/runtime.v1.RuntimeService/${method}`,
        (value: object) => Buffer.from(requestMessage.encode(requestMessage.fromObject(value)).finish()),
        (bytes: Buffer) =>
          responseMessage.toObject(responseMessage.decode(bytes), { longs: String, defaults: true }),
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + 60_000 },
        (error, response) => {
          if (error !== null) reject(error);
          else resolve(response ?? {});
        },
      );
    });
  }
}
