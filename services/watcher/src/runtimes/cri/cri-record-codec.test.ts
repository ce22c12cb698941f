import { describe, expect, it } from "vitest";
import { type CriRecorded, criRecordCodec } from "./cri-record-codec.ts";

const container: CriRecorded = {
  kind: "container",
  record: {
    id: "c0",
    sandboxId: "s0",
    podNamespace: "shop",
    podName: "web-1",
    podUid: "uid-1",
    name: "app",
    attempt: 1,
    state: "exited",
    image: "busybox:1",
    imageRef: "sha256:abc",
    labels: { app: "web" },
    createdAtNano: 1_764_000_000_123_456_789n,
    startedAtNano: 1_764_000_001_123_456_789n,
    finishedAtNano: undefined,
    exitCode: 137,
    reason: "OOMKilled",
    message: "",
    logPath: "/var/log/pods/x/app/1.log",
    memLimitBytes: 33_554_432,
    cpuLimitCores: 0.5,
    pid: null,
  },
};

const sandbox: CriRecorded = {
  kind: "sandbox",
  record: {
    id: "s0",
    namespace: "shop",
    name: "web-1",
    uid: "uid-1",
    attempt: 0,
    state: "ready",
    createdAtNano: 1_764_000_000_000_000_001n,
    labels: {},
  },
};

const roundTrip = (value: CriRecorded) =>
  criRecordCodec.fromJson(JSON.parse(JSON.stringify(criRecordCodec.toJson(value))));

describe("criRecordCodec", () => {
  it("reads back what it wrote, nanoseconds exact", () => {
    expect(roundTrip(container)).toEqual(container);
    expect(roundTrip(sandbox)).toEqual(sandbox);
  });

  it("refuses what it cannot use rather than reading a wrong state", () => {
    const json = criRecordCodec.toJson(container) as Record<string, unknown>;
    expect(criRecordCodec.fromJson({ ...json, state: "sleeping" })).toBeUndefined();
    expect(criRecordCodec.fromJson({ ...json, started_at_nano: 12 })).toBeUndefined();
    expect(criRecordCodec.fromJson({ ...json, attempt: -1 })).toBeUndefined();
    expect(criRecordCodec.fromJson({ ...json, labels: { a: 1 } })).toBeUndefined();
    expect(criRecordCodec.fromJson({ ...json, kind: "pod" })).toBeUndefined();
    expect(criRecordCodec.fromJson(null)).toBeUndefined();
    expect(criRecordCodec.fromJson([])).toBeUndefined();
  });
});
