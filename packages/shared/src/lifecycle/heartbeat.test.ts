// The heartbeat a service publishes: its runtime's API version is carried when the service knows
// one, asked at every beat, and left out otherwise.
import type { NatsConnection } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { codecs } from "../codec/codecs.ts";
import { createLogger } from "../log/logger.ts";
import type { HeartbeatMessage } from "../messages/heartbeat-message.ts";
import { createSubjects } from "../subjects/subjects.ts";
import { type HeartbeatOptions, startHeartbeat } from "./heartbeat.ts";

/** The first beat, which startHeartbeat publishes at once, decoded. */
function firstBeat(options: Partial<HeartbeatOptions>): HeartbeatMessage {
  const published: Uint8Array[] = [];
  const nc = {
    publish: (_subject: string, data: Uint8Array) => {
      published.push(data);
    },
  } as unknown as NatsConnection; // only publish is called
  const heartbeat = startHeartbeat({
    nc,
    subjects: createSubjects("crowsnest"),
    host: "node-1",
    service: "watcher",
    runtime: "cri",
    intervalMs: 60_000,
    isConnected: () => true,
    logger: createLogger({ service: "watcher", level: "silent" }),
    ...options,
  });
  heartbeat.stop();
  const [data] = published;
  if (data === undefined) throw new Error("no heartbeat was published");
  const decoded = codecs.heartbeat.decode(data);
  if (!decoded.ok) throw new Error(decoded.detail);
  return decoded.value;
}

describe("startHeartbeat", () => {
  it("says the runtime's API version the service reports", () => {
    expect(firstBeat({ runtimeApiVersion: () => "v1alpha2" }).runtime_api_version).toBe("v1alpha2");
  });

  it("leaves the field out while the version is not settled, or for a runtime with none", () => {
    expect("runtime_api_version" in firstBeat({ runtimeApiVersion: () => undefined })).toBe(false);
    expect("runtime_api_version" in firstBeat({})).toBe(false);
  });
});
