// The heartbeat a service publishes: its runtime's API version is carried when the service knows
// one, asked at every beat, and left out otherwise.
import type { NatsConnection } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { codecs } from "../codec/codecs.ts";
import { createLogger } from "../log/logger.ts";
import type { HeartbeatMessage } from "../messages/heartbeat-message.ts";
import { createSubjects } from "../subjects/subjects.ts";
import { type HeartbeatOptions, startHeartbeat, startTickedHeartbeat } from "./heartbeat.ts";

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

describe("startTickedHeartbeat", () => {
  function ticked(tickIntervalMs: number, intervalMs = 15_000) {
    let nowMs = 1_000_000;
    const beatsAtMs: number[] = [];
    const nc = {
      publish: () => {
        beatsAtMs.push(nowMs);
      },
    } as unknown as NatsConnection; // only publish is called
    const heartbeat = startTickedHeartbeat({
      nc,
      subjects: createSubjects("crowsnest"),
      host: "node-1",
      service: "collector",
      runtime: "docker",
      intervalMs,
      isConnected: () => true,
      logger: createLogger({ service: "collector", level: "silent" }),
      tickIntervalMs,
      now: () => nowMs,
    });
    return {
      heartbeat,
      beatsAtMs,
      /** Ticks `count` times, `tickIntervalMs` apart (each `lateMs` late); beat times relative to the first. */
      tick(count: number, lateMs = 0) {
        for (let i = 0; i < count; i++) {
          nowMs += tickIntervalMs + lateMs;
          heartbeat.onTick();
        }
      },
      relative: () => beatsAtMs.map((atMs) => atMs - (beatsAtMs[0] ?? 0)),
    };
  }

  it("beats at once, then at every 10 s tick against a 15 s interval: never more than the interval apart", () => {
    const { tick, relative } = ticked(10_000);
    tick(6);
    expect(relative()).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
  });

  it("beats every 15th tick at 1 s, every 3rd at 5 s, and at every tick when both are 15 s", () => {
    const oneSecond = ticked(1000);
    oneSecond.tick(45);
    expect(oneSecond.relative()).toEqual([0, 15_000, 30_000, 45_000]);
    const fiveSeconds = ticked(5000);
    fiveSeconds.tick(9);
    expect(fiveSeconds.relative()).toEqual([0, 15_000, 30_000, 45_000]);
    const same = ticked(15_000);
    same.tick(3);
    expect(same.relative()).toEqual([0, 15_000, 30_000, 45_000]);
  });

  it("keeps beats within the interval when ticks come a little late", () => {
    const { tick, beatsAtMs } = ticked(1000);
    tick(100, 3);
    const gaps = beatsAtMs.slice(1).map((atMs, i) => atMs - (beatsAtMs[i] ?? 0));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(15_000);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(14_000);
  });

  it("beats no more once stopped, and refuses ticks too far apart to carry the beats", () => {
    const { heartbeat, tick, beatsAtMs } = ticked(10_000);
    heartbeat.stop();
    tick(5);
    expect(beatsAtMs).toHaveLength(1);
    expect(() => ticked(20_000)).toThrow("cannot carry a beat every 15000 ms");
  });
});
