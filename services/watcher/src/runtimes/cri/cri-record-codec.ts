// A CRI container run or pod sandbox as the cri watcher records it on the bus to resume from
// after a restart (the `state` of its entries in the watcher-state bucket), and back. Times are
// decimal strings (nanoseconds do not fit a double). A value it cannot use (another version wrote
// it, someone edited the bucket) reads as undefined, never as a wrong state.
import type { StateCodec } from "../../recovery/published-state-store.ts";
import type { CriContainerRecord, CriSandboxRecord } from "./cri-status-cache.ts";

export type CriRecorded =
  | { readonly kind: "container"; readonly record: CriContainerRecord }
  | { readonly kind: "sandbox"; readonly record: CriSandboxRecord };

/** The bucket key of a container run or a sandbox: its runtime id, prefixed by its kind. */
export const containerRecordKey = (id: string): string => `c_${id}`;
export const sandboxRecordKey = (id: string): string => `s_${id}`;

const CONTAINER_STATES: ReadonlySet<string> = new Set(["created", "running", "exited", "unknown"]);
const NANO = /^\d{1,30}$/;

type Json = Record<string, unknown>;

const nanoText = (value: bigint | undefined): string | null =>
  value === undefined ? null : value.toString();

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) => typeof entry === "string")
  );
}

function text(json: Json, key: string): string | undefined {
  const value = json[key];
  return typeof value === "string" ? value : undefined;
}

/** A recorded time: undefined for a value that is not one (the whole record is refused then), null for none. */
function nanoOf(json: Json, key: string): bigint | null | undefined {
  const value = json[key];
  if (value === null) return null;
  return typeof value === "string" && NANO.test(value) ? BigInt(value) : undefined;
}

function numberOrNull(json: Json, key: string): number | null | undefined {
  const value = json[key];
  if (value === null) return null;
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function containerFromJson(json: Json): CriContainerRecord | undefined {
  const strings = [
    "id",
    "sandbox_id",
    "pod_namespace",
    "pod_name",
    "pod_uid",
    "name",
    "state",
    "image",
    "image_ref",
    "reason",
    "message",
    "log_path",
  ];
  const values = strings.map((key) => text(json, key));
  if (values.some((value) => value === undefined)) return undefined;
  const [
    id,
    sandboxId,
    podNamespace,
    podName,
    podUid,
    name,
    state,
    image,
    imageRef,
    reason,
    message,
    logPath,
  ] = values as string[];
  const created = nanoOf(json, "created_at_nano");
  const started = nanoOf(json, "started_at_nano");
  const finished = nanoOf(json, "finished_at_nano");
  const exitCode = numberOrNull(json, "exit_code");
  const memLimit = numberOrNull(json, "mem_limit_bytes");
  const cpuLimit = numberOrNull(json, "cpu_limit_cores");
  const pid = numberOrNull(json, "pid");
  const attempt = json.attempt;
  if (
    state === undefined ||
    !CONTAINER_STATES.has(state) ||
    typeof attempt !== "number" ||
    !Number.isInteger(attempt) ||
    attempt < 0 ||
    !isStringRecord(json.labels) ||
    created === undefined ||
    started === undefined ||
    finished === undefined ||
    exitCode === undefined ||
    memLimit === undefined ||
    cpuLimit === undefined ||
    pid === undefined
  ) {
    return undefined;
  }
  return {
    id: id as string,
    sandboxId: sandboxId as string,
    podNamespace: podNamespace as string,
    podName: podName as string,
    podUid: podUid as string,
    name: name as string,
    attempt,
    state: state as CriContainerRecord["state"],
    image: image as string,
    imageRef: imageRef as string,
    labels: json.labels,
    createdAtNano: created ?? 0n,
    startedAtNano: started ?? undefined,
    finishedAtNano: finished ?? undefined,
    exitCode,
    reason: reason as string,
    message: message as string,
    logPath: logPath as string,
    memLimitBytes: memLimit,
    cpuLimitCores: cpuLimit,
    pid,
  };
}

function sandboxFromJson(json: Json): CriSandboxRecord | undefined {
  const id = text(json, "id");
  const namespace = text(json, "namespace");
  const name = text(json, "name");
  const uid = text(json, "uid");
  const state = text(json, "state");
  const created = nanoOf(json, "created_at_nano");
  const attempt = json.attempt;
  if (
    id === undefined ||
    namespace === undefined ||
    name === undefined ||
    uid === undefined ||
    (state !== "ready" && state !== "notready") ||
    typeof attempt !== "number" ||
    !Number.isInteger(attempt) ||
    attempt < 0 ||
    created === undefined ||
    !isStringRecord(json.labels)
  ) {
    return undefined;
  }
  return { id, namespace, name, uid, attempt, state, createdAtNano: created ?? 0n, labels: json.labels };
}

export const criRecordCodec: StateCodec<CriRecorded> = {
  toJson(recorded) {
    if (recorded.kind === "sandbox") {
      const sandbox = recorded.record;
      return {
        kind: "sandbox",
        id: sandbox.id,
        namespace: sandbox.namespace,
        name: sandbox.name,
        uid: sandbox.uid,
        attempt: sandbox.attempt,
        state: sandbox.state,
        created_at_nano: nanoText(sandbox.createdAtNano),
        labels: sandbox.labels,
      };
    }
    const record = recorded.record;
    return {
      kind: "container",
      id: record.id,
      sandbox_id: record.sandboxId,
      pod_namespace: record.podNamespace,
      pod_name: record.podName,
      pod_uid: record.podUid,
      name: record.name,
      attempt: record.attempt,
      state: record.state,
      image: record.image,
      image_ref: record.imageRef,
      labels: record.labels,
      created_at_nano: nanoText(record.createdAtNano),
      started_at_nano: nanoText(record.startedAtNano),
      finished_at_nano: nanoText(record.finishedAtNano),
      exit_code: record.exitCode,
      reason: record.reason,
      message: record.message,
      log_path: record.logPath,
      mem_limit_bytes: record.memLimitBytes,
      cpu_limit_cores: record.cpuLimitCores,
      pid: record.pid,
    };
  },
  fromJson(json) {
    if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
    const value = json as Json;
    if (value.kind === "sandbox") {
      const record = sandboxFromJson(value);
      return record === undefined ? undefined : { kind: "sandbox", record };
    }
    if (value.kind === "container") {
      const record = containerFromJson(value);
      return record === undefined ? undefined : { kind: "container", record };
    }
    return undefined;
  },
};
