// Publishes a service's heartbeat on `<prefix>.v1.agents.<host>.<service>` at a fixed interval:
// on a timer of its own (startHeartbeat), or carried by the ticks of a service that ticks anyway
// (startTickedHeartbeat), which then never wakes up for a beat alone.
import { writeFileSync } from "node:fs";
import type { NatsConnection } from "@nats-io/transport-node";
import { checkedEncoders } from "../codec/checked-encoders.ts";
import type { Logger } from "../log/logger.ts";
import type { Runtime } from "../messages/common.ts";
import type { ServiceName, Subjects } from "../subjects/subjects.ts";
import { CROWSNEST_VERSION } from "../version.ts";

export interface HeartbeatOptions {
  nc: NatsConnection;
  subjects: Subjects;
  host: string;
  service: ServiceName;
  runtime: Runtime | null;
  /**
   * The version of the runtime's API the service speaks (the CRI's v1 or v1alpha2), asked at every
   * beat because it is settled only once the runtime answers; undefined: absent from the beat.
   */
  runtimeApiVersion?: (() => string | undefined) | undefined;
  intervalMs: number;
  /** Whether the service can reach what it reads (runtime or database) right now. */
  isConnected: () => boolean;
  logger: Logger;
  /** Rewritten on every beat so a container healthcheck can test its age (CROWSNEST_LIVENESS_FILE). */
  livenessFile?: string | undefined;
}

export interface Heartbeat {
  stop(): void;
}

export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  const beat = beater(options);
  beat();
  const timer = setInterval(beat, options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

export interface TickedHeartbeatOptions extends HeartbeatOptions {
  /** How far apart the caller's ticks are: at most `intervalMs`. */
  tickIntervalMs: number;
  /** The clock of the beats' ages; Date.now by default. */
  now?: () => number;
}

export interface TickedHeartbeat extends Heartbeat {
  /** The caller's tick: beats when waiting for the next tick would leave more than the interval since the last beat. */
  onTick(): void;
}

/**
 * A heartbeat without a timer: it beats at once, then at each tick after which the next tick would
 * come more than `intervalMs` after the last beat. Beats are thus never further apart than
 * `intervalMs` (give or take a tick's lateness), as `interval_ms` promises, but may come closer
 * (every 10 s with 10 s ticks and a 15 s interval). A tick that does not come (the caller stuck or
 * stopped) is no beat either.
 */
export function startTickedHeartbeat(options: TickedHeartbeatOptions): TickedHeartbeat {
  if (options.tickIntervalMs > options.intervalMs) {
    throw new Error(
      `ticks every ${options.tickIntervalMs} ms cannot carry a beat every ${options.intervalMs} ms`,
    );
  }
  const beat = beater(options);
  const now = options.now ?? Date.now;
  let lastBeatMs = now();
  let stopped = false;
  beat();
  return {
    onTick() {
      if (stopped) return;
      const nowMs = now();
      if (nowMs - lastBeatMs + options.tickIntervalMs <= options.intervalMs) return;
      lastBeatMs = nowMs;
      beat();
    },
    stop() {
      stopped = true;
    },
  };
}

/** Publishes one beat (and rewrites the liveness file) each time it is called. */
function beater(options: HeartbeatOptions): () => void {
  const startedAt = new Date().toISOString();
  const subject = options.subjects.agent(options.host, options.service);
  const beat = (): void => {
    const runtimeApiVersion = options.runtimeApiVersion?.();
    const encoded = checkedEncoders.heartbeat.encode({
      v: 1,
      host: options.host,
      service: options.service,
      version: CROWSNEST_VERSION,
      runtime: options.runtime,
      ...(runtimeApiVersion === undefined ? {} : { runtime_api_version: runtimeApiVersion }),
      connected: options.isConnected(),
      started_at: startedAt,
      ts: new Date().toISOString(),
      interval_ms: options.intervalMs,
    });
    if (!encoded.ok) {
      options.logger.error({ detail: encoded.detail }, "heartbeat failed validation");
      return;
    }
    try {
      options.nc.publish(subject, encoded.data);
    } catch (error) {
      // Publishing on a closed or draining connection throws; the next beat tries again.
      options.logger.debug({ err: error }, "heartbeat not published");
    }
    if (options.livenessFile !== undefined) {
      try {
        writeFileSync(options.livenessFile, encoded.data);
      } catch (error) {
        options.logger.warn({ err: error, file: options.livenessFile }, "could not write the liveness file");
      }
    }
  };
  return beat;
}
