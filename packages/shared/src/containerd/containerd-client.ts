// A read-only client of containerd's gRPC API over its Unix socket: version, namespaces,
// containers, tasks, task metrics and the event stream, decoded into plain objects. Every call
// names its namespace (containerd scopes everything by the `containerd-namespace` header) and
// takes an AbortSignal; the event stream ends when the signal aborts or the connection breaks.
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { containerdTypes } from "./containerd-api.ts";

export interface ContainerdTimestamp {
  seconds: number;
  nanos: number;
}

export interface ContainerdContainer {
  id: string;
  labels: Record<string, string>;
  image: string;
  runtimeName: string;
  /** The OCI runtime spec (JSON in the API), or undefined when absent or unreadable. */
  spec: OciSpec | undefined;
  createdAt: ContainerdTimestamp | undefined;
  updatedAt: ContainerdTimestamp | undefined;
}

/** The parts of an OCI runtime spec Crowsnest reads (limits, the command, the cgroup, the namespaces). */
export interface OciSpec {
  process?: { args?: string[] };
  linux?: {
    /** Where runc puts the container's cgroup: a path (cgroupfs driver) or `slice:prefix:name` (systemd driver). */
    cgroupsPath?: string;
    /** The namespaces the container gets; one with a path joins that namespace instead of making its own. */
    namespaces?: { type?: string; path?: string }[];
    resources?: {
      memory?: { limit?: number };
      cpu?: { quota?: number; period?: number; shares?: number };
      pids?: { limit?: number };
    };
  };
}

export type TaskStatus = "UNKNOWN" | "CREATED" | "RUNNING" | "STOPPED" | "PAUSED" | "PAUSING";

export interface ContainerdTask {
  containerId: string;
  pid: number;
  status: TaskStatus;
  exitStatus: number;
  exitedAt: ContainerdTimestamp | undefined;
}

/** One task's cgroup statistics, as containerd read them (cgroup v1 or v2 layout). */
export interface ContainerdMetric {
  containerId: string;
  timestamp: ContainerdTimestamp | undefined;
  /** "io.containerd.cgroups.v1.Metrics" or "io.containerd.cgroups.v2.Metrics", decoded; undefined for another type. */
  cgroup: CgroupV1Metrics | CgroupV2Metrics | undefined;
}

export interface CgroupV1Metrics {
  version: 1;
  pids?: { current?: number; limit?: number };
  cpu?: { usage?: { total?: number; kernel?: number; user?: number } };
  memory?: {
    cache?: number;
    rss?: number;
    total_cache?: number;
    total_rss?: number;
    total_inactive_file?: number;
    usage?: { limit?: number; usage?: number; max?: number; failcnt?: number };
  };
  blkio?: { io_service_bytes_recursive?: { op?: string; major?: number; minor?: number; value?: number }[] };
  memory_oom_control?: { oom_kill?: number };
}

export interface CgroupV2Metrics {
  version: 2;
  pids?: { current?: number; limit?: number };
  cpu?: { usage_usec?: number; user_usec?: number; system_usec?: number };
  memory?: { anon?: number; file?: number; inactive_file?: number; usage?: number; usage_limit?: number };
  io?: { usage?: { major?: number; minor?: number; rbytes?: number; wbytes?: number }[] };
  memory_events?: { oom?: number; oom_kill?: number };
}

/** An event from containerd's event service: the topic (e.g. `/tasks/exit`) and its decoded payload. */
export interface ContainerdEvent {
  namespace: string;
  topic: string;
  timestamp: ContainerdTimestamp | undefined;
  /** The payload's type, e.g. `containerd.events.TaskExit`. */
  type: string;
  /** The decoded payload for the types containerd-api.ts declares; undefined for any other. */
  payload: Record<string, unknown> | undefined;
}

export interface ContainerdClientOptions {
  /** Path of containerd's gRPC socket. */
  socketPath: string;
}

const NAMESPACE_HEADER = "containerd-namespace";

/** The topic and payload type of Crowsnest's subscription probe. */
export const SUBSCRIPTION_PROBE_TOPIC = "/crowsnest/subscription-probe";
export const SUBSCRIPTION_PROBE_TYPE = "crowsnest.containerd.v1.SubscriptionProbe";

const type = (name: string): protobuf.Type => containerdTypes.lookupType(name);
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  arrays: true,
  objects: true,
};

function serializer(messageType: protobuf.Type): (value: object) => Buffer {
  return (value) => Buffer.from(messageType.encode(messageType.fromObject(value)).finish());
}

function deserializer(messageType: protobuf.Type): (bytes: Buffer) => Record<string, unknown> {
  return (bytes) => messageType.toObject(messageType.decode(bytes), TO_OBJECT);
}

interface AnyValue {
  type_url: string;
  value: Buffer;
}

/** Decodes an Any whose type containerd-api.ts declares; undefined for any other type. */
function decodeAny(any: AnyValue | undefined): { type: string; value: Record<string, unknown> | undefined } {
  if (any === undefined || any.type_url === "") return { type: "", value: undefined };
  const name = any.type_url.slice(any.type_url.lastIndexOf("/") + 1);
  const messageType = containerdTypes.lookup(name);
  if (!(messageType instanceof protobuf.Type)) return { type: name, value: undefined };
  return { type: name, value: messageType.toObject(messageType.decode(any.value), TO_OBJECT) };
}

function timestampOf(value: unknown): ContainerdTimestamp | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { seconds, nanos } = value as { seconds?: unknown; nanos?: unknown };
  if (typeof seconds !== "number" || typeof nanos !== "number") return undefined;
  // containerd leaves "not yet" (a running task's exit time) as the zero time, year 1.
  return seconds <= 0 ? undefined : { seconds, nanos };
}

function parseSpec(any: AnyValue | undefined): OciSpec | undefined {
  if (any === undefined || any.value.length === 0) return undefined;
  try {
    const spec: unknown = JSON.parse(any.value.toString("utf8"));
    return typeof spec === "object" && spec !== null ? (spec as OciSpec) : undefined;
  } catch {
    return undefined;
  }
}

function containerOf(raw: Record<string, unknown>): ContainerdContainer {
  return {
    id: String(raw.id),
    labels: (raw.labels ?? {}) as Record<string, string>,
    image: String(raw.image ?? ""),
    runtimeName: String((raw.runtime as { name?: string } | null)?.name ?? ""),
    spec: parseSpec((raw.spec ?? undefined) as AnyValue | undefined),
    createdAt: timestampOf(raw.created_at),
    updatedAt: timestampOf(raw.updated_at),
  };
}

function taskOf(raw: Record<string, unknown>): ContainerdTask {
  return {
    // Tasks.List names the container in `id` (the process id of a task's init process is
    // its container's id) and leaves `container_id` empty; Tasks.Get fills both.
    containerId: String(raw.container_id || raw.id),
    pid: Number(raw.pid ?? 0),
    status: String(raw.status ?? "UNKNOWN") as TaskStatus,
    exitStatus: Number(raw.exit_status ?? 0),
    exitedAt: timestampOf(raw.exited_at),
  };
}

function metricOf(raw: Record<string, unknown>): ContainerdMetric {
  const { type: name, value } = decodeAny((raw.data ?? undefined) as AnyValue | undefined);
  let cgroup: CgroupV1Metrics | CgroupV2Metrics | undefined;
  if (value !== undefined && name === "io.containerd.cgroups.v1.Metrics") cgroup = { version: 1, ...value };
  if (value !== undefined && name === "io.containerd.cgroups.v2.Metrics") cgroup = { version: 2, ...value };
  return { containerId: String(raw.id), timestamp: timestampOf(raw.timestamp), cgroup };
}

export class ContainerdClient {
  readonly #client: grpc.Client;

  constructor(options: ContainerdClientOptions) {
    this.#client = new grpc.Client(`unix://${options.socketPath}`, grpc.credentials.createInsecure(), {
      // Event payloads and container lists stay far below this; a spec can be large.
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    });
  }

  close(): void {
    this.#client.close();
  }

  async version(signal: AbortSignal): Promise<{ version: string; revision: string }> {
    const response = await this.#unary(
      "/containerd.services.version.v1.Version/Version",
      "google.protobuf.Empty",
      "containerd.services.version.v1.VersionResponse",
      {},
      undefined,
      signal,
    );
    return { version: String(response.version), revision: String(response.revision) };
  }

  async namespaces(signal: AbortSignal): Promise<string[]> {
    const response = await this.#unary(
      "/containerd.services.namespaces.v1.Namespaces/List",
      "containerd.services.namespaces.v1.ListNamespacesRequest",
      "containerd.services.namespaces.v1.ListNamespacesResponse",
      {},
      undefined,
      signal,
    );
    return (response.namespaces as { name: string }[]).map((namespace) => namespace.name);
  }

  async containers(namespace: string, signal: AbortSignal): Promise<ContainerdContainer[]> {
    const response = await this.#unary(
      "/containerd.services.containers.v1.Containers/List",
      "containerd.services.containers.v1.ListContainersRequest",
      "containerd.services.containers.v1.ListContainersResponse",
      {},
      namespace,
      signal,
    );
    return (response.containers as Record<string, unknown>[]).map(containerOf);
  }

  /** One container, or undefined when containerd does not know it (any more). */
  async container(
    namespace: string,
    id: string,
    signal: AbortSignal,
  ): Promise<ContainerdContainer | undefined> {
    try {
      const response = await this.#unary(
        "/containerd.services.containers.v1.Containers/Get",
        "containerd.services.containers.v1.GetContainerRequest",
        "containerd.services.containers.v1.GetContainerResponse",
        { id },
        namespace,
        signal,
      );
      return containerOf(response.container as Record<string, unknown>);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async tasks(namespace: string, signal: AbortSignal): Promise<ContainerdTask[]> {
    const response = await this.#unary(
      "/containerd.services.tasks.v1.Tasks/List",
      "containerd.services.tasks.v1.ListTasksRequest",
      "containerd.services.tasks.v1.ListTasksResponse",
      {},
      namespace,
      signal,
    );
    return (response.tasks as Record<string, unknown>[]).map(taskOf);
  }

  /** A container's task, or undefined when it has none (created, or exited and deleted). */
  async task(
    namespace: string,
    containerId: string,
    signal: AbortSignal,
  ): Promise<ContainerdTask | undefined> {
    try {
      const response = await this.#unary(
        "/containerd.services.tasks.v1.Tasks/Get",
        "containerd.services.tasks.v1.GetRequest",
        "containerd.services.tasks.v1.GetResponse",
        { container_id: containerId },
        namespace,
        signal,
      );
      return taskOf(response.process as Record<string, unknown>);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** The cgroup statistics of every task of the namespace (or those the filters select, e.g. `id==<id>`). */
  async metrics(
    namespace: string,
    filters: readonly string[],
    signal: AbortSignal,
  ): Promise<ContainerdMetric[]> {
    const response = await this.#unary(
      "/containerd.services.tasks.v1.Tasks/Metrics",
      "containerd.services.tasks.v1.MetricsRequest",
      "containerd.services.tasks.v1.MetricsResponse",
      { filters: [...filters] },
      namespace,
      signal,
    );
    return (response.metrics as Record<string, unknown>[]).map(metricOf);
  }

  /**
   * The event stream, from now on (containerd replays nothing). `filters` as containerd takes
   * them, e.g. `namespace==default`; several are ORed. Ends when `signal` aborts; throws when
   * the stream breaks.
   */
  async *subscribe(filters: readonly string[], signal: AbortSignal): AsyncGenerator<ContainerdEvent> {
    const responseType = type("containerd.services.events.v1.Envelope");
    const call = this.#client.makeServerStreamRequest(
      "/containerd.services.events.v1.Events/Subscribe",
      serializer(type("containerd.services.events.v1.SubscribeRequest")),
      deserializer(responseType),
      { filters: [...filters] },
      new grpc.Metadata(),
      {},
    );
    const onAbort = () => call.cancel();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const raw of call as AsyncIterable<Record<string, unknown>>) {
        const { type: payloadType, value } = decodeAny((raw.event ?? undefined) as AnyValue | undefined);
        yield {
          namespace: String(raw.namespace),
          topic: String(raw.topic),
          timestamp: timestampOf(raw.timestamp),
          type: payloadType,
          payload: value,
        };
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
      call.cancel();
    }
  }

  /**
   * Publishes Crowsnest's subscription probe (an event of its own type on SUBSCRIPTION_PROBE_TOPIC)
   * in `namespace`. containerd does not confirm a subscription: a subscriber knows it receives
   * once the probe it published comes back on its stream, and only then is a list taken after
   * it race-free. Other subscribers see the probe too, under its own topic.
   */
  async publishSubscriptionProbe(namespace: string, nonce: string, signal: AbortSignal): Promise<void> {
    const probe = type(SUBSCRIPTION_PROBE_TYPE);
    await this.#unary(
      "/containerd.services.events.v1.Events/Publish",
      "containerd.services.events.v1.PublishRequest",
      "google.protobuf.Empty",
      {
        topic: SUBSCRIPTION_PROBE_TOPIC,
        event: {
          type_url: SUBSCRIPTION_PROBE_TYPE,
          value: Buffer.from(probe.encode(probe.fromObject({ nonce })).finish()),
        },
      },
      namespace,
      signal,
    );
  }

  #unary(
    path: string,
    requestType: string,
    responseType: string,
    request: object,
    namespace: string | undefined,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const metadata = new grpc.Metadata();
    if (namespace !== undefined) metadata.set(NAMESPACE_HEADER, namespace);
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const call = this.#client.makeUnaryRequest(
        path,
        serializer(type(requestType)),
        deserializer(type(responseType)),
        request,
        metadata,
        {},
        (error, response) => {
          signal.removeEventListener("abort", onAbort);
          if (error !== null) reject(error);
          else if (response === undefined) reject(new Error(`containerd answered ${path} with nothing`));
          else resolve(response);
        },
      );
      const onAbort = () => call.cancel();
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

export function isNotFound(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as { code?: unknown }).code === grpc.status.NOT_FOUND
  );
}
