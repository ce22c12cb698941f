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
import { errors, nanos } from "@nats-io/transport-node";
import { CrowsnestError } from "../errors/crowsnest-error.ts";
import type { Logger } from "../log/logger.ts";
import type { Subjects } from "../subjects/subjects.ts";
import { withAdminRetry } from "./jetstream-admin.ts";

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

function nameBase(subjects: Subjects): string {
  return subjects.prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase();
}

/** Stream names come from the subject prefix, so deployments (and tests) sharing a server never collide. */
export function streamName(subjects: Subjects, role: StreamRole): string {
  return `${nameBase(subjects)}_${role.toUpperCase()}`;
}

/** The watchers' KV bucket, named like the streams (`crowsnest` → `CROWSNEST_WATCHER_STATE`). */
export function watcherStateBucketName(subjects: Subjects): string {
  return `${nameBase(subjects)}_WATCHER_STATE`;
}

/** How many copies of each stream a cluster keeps: 1 on a single server, 3 in a cluster of three. */
export const DEFAULT_STREAM_REPLICAS = 1;

export function streamDefinitions(
  subjects: Subjects,
  retention: StreamRetention,
  replicas: number = DEFAULT_STREAM_REPLICAS,
): StreamDefinition[] {
  const common = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
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

/**
 * A stream exists with a configuration the server cannot change in place (e.g. more replicas
 * than a single server has, or a different storage type): the message says which stream,
 * which settings, and what the server answered.
 */
export class StreamUpdateError extends CrowsnestError {
  constructor(message: string, options?: ErrorOptions) {
    super("stream_update_impossible", message, options);
  }
}

/** NATS refused the request's subject to this user (reported directly or as a request's cause). */
function isPermissionViolation(error: unknown): boolean {
  return (
    error instanceof errors.PermissionViolationError ||
    (error instanceof errors.RequestError && error.cause instanceof errors.PermissionViolationError)
  );
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/** The settings whose wanted value the actual configuration does not have, as "key: actual → wanted". */
function differences(wanted: object, actual: object): string[] {
  const actualRecord = actual as Record<string, unknown>;
  return Object.entries(wanted)
    .filter(([key, value]) => JSON.stringify(actualRecord[key]) !== JSON.stringify(value))
    .map(
      ([key, value]) => `${key}: ${JSON.stringify(actualRecord[key]) ?? "unset"} → ${JSON.stringify(value)}`,
    );
}

/**
 * Creates each stream, or updates it when its configuration (subjects, limits, replicas)
 * changed. Calls are retried while a cluster elects a leader; an update the server refuses
 * becomes a StreamUpdateError naming what would have changed.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  definitions: readonly StreamDefinition[],
  logger: Logger,
): Promise<void> {
  const retry = { logger };
  for (const { config } of definitions) {
    try {
      const info = await withAdminRetry(
        `stream ${config.name} info`,
        () => jsm.streams.info(config.name),
        retry,
      );
      const changed = differences(config, info.config);
      if (changed.length > 0) {
        // A single server accepts an update to more replicas and keeps one copy: say so instead.
        if ((config.num_replicas ?? 1) > 1 && info.cluster === undefined) {
          throw new StreamUpdateError(
            `JetStream stream ${config.name} cannot have ${config.num_replicas} replicas (${changed.join("; ")}): the NATS server is not part of a cluster. Set CROWSNEST_STREAM_REPLICAS=1, or connect to a JetStream cluster.`,
          );
        }
        try {
          await withAdminRetry(
            `stream ${config.name} update`,
            () => jsm.streams.update(config.name, config),
            retry,
          );
        } catch (updateError) {
          if (isPermissionViolation(updateError)) {
            // A host's credentials may create streams but never change them: the store's may.
            logger.warn(
              { stream: config.name, changed },
              "JetStream stream differs from this service's configuration, which its NATS user may not change; the store updates it",
            );
            continue;
          }
          if (!(updateError instanceof JetStreamApiError)) throw updateError;
          throw new StreamUpdateError(
            `JetStream stream ${config.name} cannot be changed in place (${changed.join("; ")}): the server says "${updateError.message}". Change the setting back, or move the stream's messages elsewhere and delete it so that it is created anew.`,
            { cause: updateError },
          );
        }
        logger.info({ stream: config.name, changed }, "updated JetStream stream");
      }
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
      try {
        await withAdminRetry(`stream ${config.name} creation`, () => jsm.streams.add(config), retry);
        logger.info({ stream: config.name, replicas: config.num_replicas }, "created JetStream stream");
      } catch (addError) {
        // Another service created it between our info and add: that is the outcome we wanted.
        if (isApiError(addError, STREAM_NAME_IN_USE)) continue;
        if (addError instanceof JetStreamApiError) {
          throw new StreamUpdateError(
            `JetStream stream ${config.name} cannot be created with replicas ${config.num_replicas}: the server says "${addError.message}"`,
            { cause: addError },
          );
        }
        throw addError;
      }
    }
  }
}

export async function ensureConsumers(
  jsm: JetStreamManager,
  definitions: readonly ConsumerDefinition[],
  logger: Logger,
): Promise<void> {
  const retry = { logger };
  for (const { stream, config } of definitions) {
    const what = `consumer ${stream}/${config.durable_name}`;
    try {
      const info = await withAdminRetry(
        `${what} info`,
        () => jsm.consumers.info(stream, config.durable_name),
        retry,
      );
      if (differences(config, info.config).length > 0) {
        await withAdminRetry(
          `${what} update`,
          () => jsm.consumers.update(stream, config.durable_name, config),
          retry,
        );
        logger.info({ stream, consumer: config.durable_name }, "updated JetStream consumer");
      }
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
      // Adding an identical durable is idempotent on the server, so a concurrent add is harmless.
      await withAdminRetry(`${what} creation`, () => jsm.consumers.add(stream, config), retry);
      logger.info({ stream, consumer: config.durable_name }, "created JetStream consumer");
    }
  }
}
