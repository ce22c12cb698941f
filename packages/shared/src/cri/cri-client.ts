// A read-only client of a CRI runtime service (containerd's CRI plugin, CRI-O) over its Unix
// socket: the runtime's version, the pod sandboxes, the containers, one container's status,
// container and sandbox stats and the container event stream, decoded into plain objects. It
// speaks `runtime.v1`, or `runtime.v1alpha2` when the runtime serves only that (connectCri
// finds out). Every call takes an AbortSignal.
import * as grpc from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import { CRI_API_VERSIONS, type CriApiVersion, criTypes } from "./cri-api.ts";

export interface CriRuntimeVersion {
  /** e.g. `containerd`, `cri-o`. */
  runtimeName: string;
  runtimeVersion: string;
  /** The CRI version the runtime names (e.g. `v1`). */
  runtimeApiVersion: string;
}

export type CriSandboxState = "ready" | "notready";

export interface CriPodSandbox {
  id: string;
  /** The pod's name, uid and namespace, and which sandbox of the pod this is (0, 1, …). */
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
  state: CriSandboxState;
  /** Nanoseconds since the epoch. */
  createdAtNano: bigint;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export type CriContainerState = "created" | "running" | "exited" | "unknown";

export interface CriContainer {
  id: string;
  podSandboxId: string;
  /** The container's name in its pod, and which run of it this is (0, 1, …). */
  name: string;
  attempt: number;
  image: string;
  imageRef: string;
  state: CriContainerState;
  createdAtNano: bigint;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface CriContainerStatus {
  id: string;
  name: string;
  attempt: number;
  state: CriContainerState;
  createdAtNano: bigint;
  /** Undefined until it started (the API's 0). */
  startedAtNano: bigint | undefined;
  /** Undefined until it finished. */
  finishedAtNano: bigint | undefined;
  exitCode: number;
  image: string;
  imageRef: string;
  /** e.g. `OOMKilled`, `Error`, `Completed`; empty when the runtime gives none. */
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The container's log file on the host (absolute), empty when it has none. */
  logPath: string;
  /** From the container's resources; undefined where the runtime does not report them. */
  resources: CriLinuxResources | undefined;
  /** The runtime's verbose info (JSON strings by key), only when asked for. */
  info: Record<string, string>;
}

export interface CriLinuxResources {
  cpuPeriod: number;
  cpuQuota: number;
  cpuShares: number;
  memoryLimitBytes: number;
}

export interface CriContainerStats {
  id: string;
  name: string;
  attempt: number;
  labels: Record<string, string>;
  cpu:
    | {
        timestampNano: bigint;
        /** Cumulative CPU time in ns, undefined when not reported. */
        usageCoreNanoSeconds: number | undefined;
        /** The runtime's own average over its window (ns of CPU per s), undefined when not reported (older runtimes). */
        usageNanoCores: number | undefined;
      }
    | undefined;
  memory:
    | {
        timestampNano: bigint;
        workingSetBytes: number | undefined;
        usageBytes: number | undefined;
      }
    | undefined;
}

export interface CriNetworkInterfaceUsage {
  name: string;
  rxBytes: number | undefined;
  txBytes: number | undefined;
}

export interface CriPodSandboxStats {
  id: string;
  network: { timestampNano: bigint; interfaces: CriNetworkInterfaceUsage[] } | undefined;
}

export type CriContainerEventType = "created" | "started" | "stopped" | "deleted";

export interface CriContainerEvent {
  containerId: string;
  type: CriContainerEventType;
  createdAtNano: bigint;
}

const TO_OBJECT: protobuf.IConversionOptions = {
  // Nanosecond times do not fit a double: strings, turned into bigints below.
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
};

type Raw = Record<string, unknown>;

function serializer(messageType: protobuf.Type): (value: object) => Buffer {
  return (value) => Buffer.from(messageType.encode(messageType.fromObject(value)).finish());
}

function deserializer(messageType: protobuf.Type): (bytes: Buffer) => Raw {
  return (bytes) => messageType.toObject(messageType.decode(bytes), TO_OBJECT);
}

// The end of year 9999: a later time has no RFC 3339 form, and no runtime means it.
const MAX_NANO = 253_402_300_799_999_999_999n;

/** A nanosecond time; 0 for none, for a negative one and for one past year 9999. */
function nano(value: unknown): bigint {
  let parsed = 0n;
  if (typeof value === "string" && /^\d{1,30}$/.test(value)) parsed = BigInt(value);
  else if (typeof value === "number" && Number.isSafeInteger(value)) parsed = BigInt(value);
  return parsed > 0n && parsed <= MAX_NANO ? parsed : 0n;
}

function optionalNano(value: unknown): bigint | undefined {
  const parsed = nano(value);
  return parsed > 0n ? parsed : undefined;
}

function count(value: unknown): number {
  const parsed = Number(value ?? 0);
  return Number.isFinite(parsed) ? parsed : 0;
}

/** A UInt64Value wrapper: undefined when absent (not reported), else its value. */
function wrapped(value: unknown): number | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  return count((value as { value?: unknown }).value);
}

function stringMap(value: unknown): Record<string, string> {
  return typeof value === "object" && value !== null ? (value as Record<string, string>) : {};
}

function object(value: unknown): Raw {
  return typeof value === "object" && value !== null ? (value as Raw) : {};
}

const CONTAINER_STATES: Readonly<Record<string, CriContainerState>> = {
  CONTAINER_CREATED: "created",
  CONTAINER_RUNNING: "running",
  CONTAINER_EXITED: "exited",
};

const containerState = (value: unknown): CriContainerState => CONTAINER_STATES[String(value)] ?? "unknown";

const EVENT_TYPES: Readonly<Record<string, CriContainerEventType>> = {
  CONTAINER_CREATED_EVENT: "created",
  CONTAINER_STARTED_EVENT: "started",
  CONTAINER_STOPPED_EVENT: "stopped",
  CONTAINER_DELETED_EVENT: "deleted",
};

function sandboxOf(raw: Raw): CriPodSandbox {
  const metadata = object(raw.metadata);
  return {
    id: String(raw.id),
    name: String(metadata.name ?? ""),
    uid: String(metadata.uid ?? ""),
    namespace: String(metadata.namespace ?? ""),
    attempt: count(metadata.attempt),
    state: raw.state === "SANDBOX_READY" ? "ready" : "notready",
    createdAtNano: nano(raw.created_at),
    labels: stringMap(raw.labels),
    annotations: stringMap(raw.annotations),
  };
}

function containerOf(raw: Raw): CriContainer {
  const metadata = object(raw.metadata);
  return {
    id: String(raw.id),
    podSandboxId: String(raw.pod_sandbox_id ?? ""),
    name: String(metadata.name ?? ""),
    attempt: count(metadata.attempt),
    image: String(object(raw.image).image ?? ""),
    imageRef: String(raw.image_ref ?? ""),
    state: containerState(raw.state),
    createdAtNano: nano(raw.created_at),
    labels: stringMap(raw.labels),
    annotations: stringMap(raw.annotations),
  };
}

function resourcesOf(raw: unknown): CriLinuxResources | undefined {
  const linux = object(raw).linux;
  if (typeof linux !== "object" || linux === null) return undefined;
  const value = linux as Raw;
  return {
    cpuPeriod: count(value.cpu_period),
    cpuQuota: count(value.cpu_quota),
    cpuShares: count(value.cpu_shares),
    memoryLimitBytes: count(value.memory_limit_in_bytes),
  };
}

function statusOf(raw: Raw, info: Raw): CriContainerStatus {
  const metadata = object(raw.metadata);
  return {
    id: String(raw.id),
    name: String(metadata.name ?? ""),
    attempt: count(metadata.attempt),
    state: containerState(raw.state),
    createdAtNano: nano(raw.created_at),
    startedAtNano: optionalNano(raw.started_at),
    finishedAtNano: optionalNano(raw.finished_at),
    exitCode: count(raw.exit_code),
    image: String(object(raw.image).image ?? ""),
    imageRef: String(raw.image_ref ?? ""),
    reason: String(raw.reason ?? ""),
    message: String(raw.message ?? ""),
    labels: stringMap(raw.labels),
    annotations: stringMap(raw.annotations),
    logPath: String(raw.log_path ?? ""),
    resources: resourcesOf(raw.resources),
    info: stringMap(info),
  };
}

function statsOf(raw: Raw): CriContainerStats {
  const attributes = object(raw.attributes);
  const metadata = object(attributes.metadata);
  const cpu = raw.cpu;
  const memory = raw.memory;
  return {
    id: String(attributes.id ?? ""),
    name: String(metadata.name ?? ""),
    attempt: count(metadata.attempt),
    labels: stringMap(attributes.labels),
    cpu:
      typeof cpu === "object" && cpu !== null
        ? {
            timestampNano: nano((cpu as Raw).timestamp),
            usageCoreNanoSeconds: wrapped((cpu as Raw).usage_core_nano_seconds),
            usageNanoCores: wrapped((cpu as Raw).usage_nano_cores),
          }
        : undefined,
    memory:
      typeof memory === "object" && memory !== null
        ? {
            timestampNano: nano((memory as Raw).timestamp),
            workingSetBytes: wrapped((memory as Raw).working_set_bytes),
            usageBytes: wrapped((memory as Raw).usage_bytes),
          }
        : undefined,
  };
}

function interfaceOf(raw: unknown): CriNetworkInterfaceUsage {
  const value = object(raw);
  return {
    name: String(value.name ?? ""),
    rxBytes: wrapped(value.rx_bytes),
    txBytes: wrapped(value.tx_bytes),
  };
}

function sandboxStatsOf(raw: Raw): CriPodSandboxStats {
  const network = object(raw.linux).network;
  if (typeof network !== "object" || network === null) {
    return { id: String(object(raw.attributes).id ?? ""), network: undefined };
  }
  const value = network as Raw;
  const interfaces = [
    ...(value.default_interface === null || value.default_interface === undefined
      ? []
      : [interfaceOf(value.default_interface)]),
    ...(Array.isArray(value.interfaces) ? value.interfaces.map(interfaceOf) : []),
  ];
  return {
    id: String(object(raw.attributes).id ?? ""),
    network: { timestampNano: nano(value.timestamp), interfaces },
  };
}

export function isGrpcCode(error: unknown, code: grpc.status): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}

/** The runtime does not serve this call (or this API version): gRPC UNIMPLEMENTED. */
export const isUnimplemented = (error: unknown): boolean => isGrpcCode(error, grpc.status.UNIMPLEMENTED);
export const isCriNotFound = (error: unknown): boolean => isGrpcCode(error, grpc.status.NOT_FOUND);

export class CriClient {
  readonly #client: grpc.Client;
  readonly socketPath: string;
  /** The API package the calls use: v1 until negotiate() found that only v1alpha2 is served. */
  apiVersion: CriApiVersion = "v1";
  /** What the runtime answered to the negotiation; undefined until then. */
  runtime: CriRuntimeVersion | undefined;

  constructor(socketPath: string) {
    this.socketPath = socketPath;
    this.#client = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure(), {
      // A node with thousands of containers lists them in one answer.
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    });
  }

  /** The API package the runtime was found to serve; undefined until negotiate() succeeded. */
  get negotiatedApiVersion(): CriApiVersion | undefined {
    return this.runtime === undefined ? undefined : this.apiVersion;
  }

  close(): void {
    this.#client.close();
  }

  /**
   * Finds the API package the runtime serves (v1, else v1alpha2) by asking its version in each;
   * once found, a no-op. Rejects with the last error when the runtime answers in neither.
   */
  async negotiate(signal: AbortSignal): Promise<CriRuntimeVersion> {
    if (this.runtime !== undefined) return this.runtime;
    let lastError: unknown;
    for (const version of CRI_API_VERSIONS) {
      this.apiVersion = version;
      try {
        this.runtime = await this.version(signal);
        return this.runtime;
      } catch (error) {
        lastError = error;
        if (!isUnimplemented(error)) break;
      }
    }
    this.apiVersion = "v1";
    throw lastError;
  }

  async version(signal: AbortSignal): Promise<CriRuntimeVersion> {
    const response = await this.#unary(
      "Version",
      "VersionRequest",
      "VersionResponse",
      { version: "0.1.0" },
      signal,
    );
    return {
      runtimeName: String(response.runtime_name ?? ""),
      runtimeVersion: String(response.runtime_version ?? ""),
      runtimeApiVersion: String(response.runtime_api_version ?? ""),
    };
  }

  async podSandboxes(signal: AbortSignal): Promise<CriPodSandbox[]> {
    const response = await this.#unary(
      "ListPodSandbox",
      "ListPodSandboxRequest",
      "ListPodSandboxResponse",
      {},
      signal,
    );
    return (response.items as Raw[]).map(sandboxOf);
  }

  async containers(signal: AbortSignal): Promise<CriContainer[]> {
    const response = await this.#unary(
      "ListContainers",
      "ListContainersRequest",
      "ListContainersResponse",
      {},
      signal,
    );
    return (response.containers as Raw[]).map(containerOf);
  }

  /** One container's status; undefined when the runtime does not know it (any more). */
  async containerStatus(
    id: string,
    verbose: boolean,
    signal: AbortSignal,
  ): Promise<CriContainerStatus | undefined> {
    try {
      const response = await this.#unary(
        "ContainerStatus",
        "ContainerStatusRequest",
        "ContainerStatusResponse",
        { container_id: id, verbose },
        signal,
      );
      if (typeof response.status !== "object" || response.status === null) return undefined;
      return statusOf(response.status as Raw, object(response.info));
    } catch (error) {
      if (isCriNotFound(error)) return undefined;
      throw error;
    }
  }

  /** The stats of every container the runtime samples (running ones). */
  async containerStats(signal: AbortSignal): Promise<CriContainerStats[]> {
    const response = await this.#unary(
      "ListContainerStats",
      "ListContainerStatsRequest",
      "ListContainerStatsResponse",
      {},
      signal,
    );
    return (response.stats as Raw[]).map(statsOf);
  }

  /** Every sandbox's stats (for its network counters); rejects UNIMPLEMENTED on runtimes older than the call. */
  async podSandboxStats(signal: AbortSignal): Promise<CriPodSandboxStats[]> {
    const response = await this.#unary(
      "ListPodSandboxStats",
      "ListPodSandboxStatsRequest",
      "ListPodSandboxStatsResponse",
      {},
      signal,
    );
    return (response.stats as Raw[]).map(sandboxStatsOf);
  }

  /**
   * The runtime's container events from now on (containerd ≥ 1.7, CRI-O). Ends when `signal`
   * aborts; throws when the stream breaks, UNIMPLEMENTED where the runtime has no such stream.
   */
  async *containerEvents(signal: AbortSignal): AsyncGenerator<CriContainerEvent> {
    const call = this.#client.makeServerStreamRequest(
      this.#path("GetContainerEvents"),
      serializer(this.#type("GetEventsRequest")),
      deserializer(this.#type("ContainerEventResponse")),
      {},
      new grpc.Metadata(),
      {},
    );
    const onAbort = () => call.cancel();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const raw of call as AsyncIterable<Raw>) {
        yield {
          containerId: String(raw.container_id ?? ""),
          type: EVENT_TYPES[String(raw.container_event_type)] ?? "created",
          createdAtNano: nano(raw.created_at),
        };
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
      call.cancel();
    }
  }

  #type(name: string): protobuf.Type {
    return criTypes.lookupType(`runtime.${this.apiVersion}.${name}`);
  }

  #path(method: string): string {
    return `/runtime.${this.apiVersion}.RuntimeService/${method}`;
  }

  #unary(
    method: string,
    requestType: string,
    responseType: string,
    request: object,
    signal: AbortSignal,
  ): Promise<Raw> {
    const path = this.#path(method);
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const call = this.#client.makeUnaryRequest(
        path,
        serializer(this.#type(requestType)),
        deserializer(this.#type(responseType)),
        request,
        new grpc.Metadata(),
        {},
        (error, response) => {
          signal.removeEventListener("abort", onAbort);
          if (error !== null) reject(error);
          else if (response === undefined) reject(new Error(`the CRI runtime answered ${path} with nothing`));
          else resolve(response);
        },
      );
      const onAbort = () => call.cancel();
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

export { CRI_API_VERSIONS, type CriApiVersion };
