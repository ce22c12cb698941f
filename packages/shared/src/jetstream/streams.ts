// The JetStream streams and the store's durable consumers, declared once and created or
// updated idempotently by whichever service starts first.
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Logger } from "../log/logger.ts";
import type { Subjects } from "../subjects/subjects.ts";

export interface StreamRetention {
  /** How long telemetry (stats, host stats) waits in the bus for a store that is down. */
  telemetryMaxAgeMs: number;
  /** How long events and inventories wait. */
  eventsMaxAgeMs: number;
  /** Republishes inside this window with the same message id are stored once. */
  duplicateWindowMs: number;
}

export const DEFAULT_STREAM_RETENTION: StreamRetention = {
  telemetryMaxAgeMs: 24 * 3600_000,
  eventsMaxAgeMs: 7 * 24 * 3600_000,
  duplicateWindowMs: 120_000,
};

export type StreamRole = "telemetry" | "events" | "alerts" | "deadletter";
export type StoreConsumerRole = "stats" | "events" | "inventory" | "host" | "notify";

export interface StreamDefinition {
  readonly role: StreamRole;
  readonly config: Partial<StreamConfig> & { name: string; subjects: string[] };
}

export interface ConsumerDefinition {
  readonly role: StoreConsumerRole;
  readonly stream: string;
  readonly config: Partial<ConsumerConfig> & { durable_name: string; filter_subject: string };
}

/** Stream names come from the subject prefix, so deployments (and tests) sharing a server never collide. */
export function streamName(subjects: Subjects, role: StreamRole): string {
  const base = subjects.prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase();
  return `${base}_${role.toUpperCase()}`;
}

export function streamDefinitions(subjects: Subjects, retention: StreamRetention): StreamDefinition[] {
  const common = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: 1,
    duplicate_window: nanos(retention.duplicateWindowMs),
  };
  return [
    {
      role: "telemetry",
      config: {
        ...common,
        name: streamName(subjects, "telemetry"),
        subjects: [subjects.all("stats"), subjects.all("host")],
        max_age: nanos(retention.telemetryMaxAgeMs),
      },
    },
    {
      role: "events",
      config: {
        ...common,
        name: streamName(subjects, "events"),
        subjects: [subjects.all("events"), subjects.all("inventory")],
        max_age: nanos(retention.eventsMaxAgeMs),
      },
    },
    {
      role: "alerts",
      config: {
        ...common,
        name: streamName(subjects, "alerts"),
        subjects: [subjects.all("alerts")],
        max_age: nanos(retention.eventsMaxAgeMs),
      },
    },
    {
      role: "deadletter",
      config: {
        ...common,
        name: streamName(subjects, "deadletter"),
        subjects: [subjects.all("deadletter")],
        max_age: nanos(retention.eventsMaxAgeMs),
      },
    },
  ];
}

export interface StoreConsumerOptions {
  /** Messages handed out and not yet acked, per consumer: bounds memory and redelivery storms. */
  maxAckPending: number;
  /** How long the server waits for an ack before redelivering. */
  ackWaitMs: number;
}

// nats-server 2.9 (Debian's) allows one filter subject per consumer, so each family has its own.
export function storeConsumerDefinitions(
  subjects: Subjects,
  options: StoreConsumerOptions,
): ConsumerDefinition[] {
  const consumer = (role: StoreConsumerRole, stream: StreamRole, filter: string): ConsumerDefinition => ({
    role,
    stream: streamName(subjects, stream),
    config: {
      durable_name: `store-${role}`,
      filter_subject: filter,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: options.maxAckPending,
      ack_wait: nanos(options.ackWaitMs),
    },
  });
  return [
    consumer("stats", "telemetry", subjects.all("stats")),
    consumer("events", "events", subjects.all("events")),
    consumer("inventory", "events", subjects.all("inventory")),
    consumer("host", "telemetry", subjects.all("host")),
  ];
}

/** JetStream's "stream name already in use with a different configuration" (no named constant in the client). */
const STREAM_NAME_IN_USE = 10058;

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

function differs(wanted: object, actual: object): boolean {
  const actualRecord = actual as Record<string, unknown>;
  return Object.entries(wanted).some(
    ([key, value]) => JSON.stringify(actualRecord[key]) !== JSON.stringify(value),
  );
}

export async function ensureStreams(
  jsm: JetStreamManager,
  definitions: readonly StreamDefinition[],
  logger: Logger,
): Promise<void> {
  for (const { config } of definitions) {
    try {
      const info = await jsm.streams.info(config.name);
      if (differs(config, info.config)) {
        await jsm.streams.update(config.name, config);
        logger.info({ stream: config.name }, "updated JetStream stream");
      }
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
      try {
        await jsm.streams.add(config);
        logger.info({ stream: config.name }, "created JetStream stream");
      } catch (addError) {
        // Another service created it between our info and add: that is the outcome we wanted.
        if (!isApiError(addError, STREAM_NAME_IN_USE)) throw addError;
      }
    }
  }
}

export async function ensureConsumers(
  jsm: JetStreamManager,
  definitions: readonly ConsumerDefinition[],
  logger: Logger,
): Promise<void> {
  for (const { stream, config } of definitions) {
    try {
      const info = await jsm.consumers.info(stream, config.durable_name);
      if (differs(config, info.config)) {
        await jsm.consumers.update(stream, config.durable_name, config);
        logger.info({ stream, consumer: config.durable_name }, "updated JetStream consumer");
      }
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
      // Adding an identical durable is idempotent on the server, so a concurrent add is harmless.
      await jsm.consumers.add(stream, config);
      logger.info({ stream, consumer: config.durable_name }, "created JetStream consumer");
    }
  }
}
