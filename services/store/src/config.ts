// The store's configuration: the only module that reads process.env.
import {
  type CommonConfig,
  commonConfigFrom,
  commonEnv,
  type EnvSource,
  envInteger,
  envOptionalString,
  parseEnv,
  postgresEnv,
} from "@crowsnest/shared";

export const storeEnv = {
  ...commonEnv,
  ...postgresEnv("store"),
  CROWSNEST_INGEST_BATCH_SIZE: envInteger({
    description: "Most messages written in one insert; a batch closes when full or when the wait ends.",
    default: 1000,
    min: 1,
    max: 20_000,
  }),
  CROWSNEST_INGEST_BATCH_WAIT_MS: envInteger({
    description: "Longest a received message waits for its batch to fill before the batch is written.",
    default: 200,
    min: 1,
    max: 60_000,
  }),
  CROWSNEST_INGEST_MAX_ACK_PENDING: envInteger({
    description: "Messages per JetStream consumer handed out and not yet acknowledged (bounds memory).",
    default: 20_000,
    min: 100,
    max: 1_000_000,
  }),
  CROWSNEST_INGEST_STATS_WRITE_CONCURRENCY: envInteger({
    description:
      "Container-sample batches written to Postgres at once (each holds a pool connection); the next batch decodes meanwhile.",
    default: 2,
    min: 1,
    max: 16,
  }),
  CROWSNEST_INGEST_ACK_WAIT_MS: envInteger({
    description: "How long JetStream waits for an acknowledgement before redelivering a message.",
    default: 30_000,
    min: 5000,
    max: 600_000,
  }),
  CROWSNEST_RETENTION_RAW_DAYS: envInteger({
    description:
      "Days raw container and host samples are kept; they leave a whole UTC day at a time, so up to one day longer. Also bounds the rollup catch-up.",
    default: 7,
    min: 1,
    max: 3650,
  }),
  CROWSNEST_RETENTION_MINUTE_DAYS: envInteger({
    description:
      "Days minute and five-minute rollups are kept (whole UTC days, like raw samples); they serve history from 1 hour up to 7 days.",
    default: 14,
    min: 1,
    max: 3650,
  }),
  CROWSNEST_RETENTION_HOURLY_DAYS: envInteger({
    description: "Days hourly rollups are kept.",
    default: 90,
    min: 1,
    max: 3650,
  }),
  CROWSNEST_RETENTION_DAILY_DAYS: envInteger({
    description: "Days daily rollups are kept.",
    default: 400,
    min: 1,
    max: 36_500,
  }),
  CROWSNEST_RETENTION_EVENTS_DAYS: envInteger({
    description: "Days lifecycle events are kept.",
    default: 30,
    min: 1,
    max: 3650,
  }),
  CROWSNEST_RETENTION_ALERT_HISTORY_DAYS: envInteger({
    description: "Days alert transitions are kept in the alert history.",
    default: 90,
    min: 1,
    max: 3650,
  }),
  CROWSNEST_ROLLUP_INTERVAL_MS: envInteger({
    description:
      "How often the store looks for closed minute, hourly and daily buckets to roll up (also at start, catching up on what it missed). The minute job runs on this interval's grid 21 s into it (with the default, 21 s after every minute, once the minute just closed has settled), so a minute is computed about 21 s after it closed.",
    default: 60_000,
    min: 1000,
    max: 3_600_000,
  }),
  CROWSNEST_RETENTION_INTERVAL_MS: envInteger({
    description: "How often expired data is removed and raw partitions are created ahead (also at start).",
    default: 600_000,
    min: 1000,
    max: 86_400_000,
  }),
  CROWSNEST_ALERT_PUBLISH_INTERVAL_MS: envInteger({
    description:
      "How often alert transitions not yet on the bus are published; a batch that fires one publishes at once, so this bounds the delay after a failed publish.",
    default: 1000,
    min: 100,
    max: 600_000,
  }),
  CROWSNEST_ALERT_SWEEP_INTERVAL_MS: envInteger({
    description:
      "How often firing restart-loop alerts are checked for a window that passed without enough restarts (or alerting turned off), and resolved.",
    default: 30_000,
    min: 1000,
    max: 3_600_000,
  }),
  CROWSNEST_ALERT_CONFIG_CHECK_INTERVAL_MS: envInteger({
    description:
      "How often the store checks whether alert settings or rules changed (through the api) and reloads them; the longest a change takes to apply.",
    default: 2000,
    min: 100,
    max: 600_000,
  }),
  CROWSNEST_PUBLIC_URL: envOptionalString({
    description:
      "Where people reach Crowsnest (e.g. https://crowsnest.example.com); notifications then link to the container at <url>/containers/<id>.",
    pattern: /^https?:\/\/[^\s/?#]+[^\s?#]*$/,
    patternText: "an http:// or https:// URL without query or fragment",
  }),
  CROWSNEST_NOTIFY_TIMEOUT_MS: envInteger({
    description:
      "Longest a notification channel may take to answer one message before the try counts as failed.",
    default: 10_000,
    min: 500,
    max: 120_000,
  }),
  CROWSNEST_NOTIFY_MAX_ATTEMPTS: envInteger({
    description:
      "Tries per notification before it is given up (logged as gave_up); with the default delays the last try is about 9 minutes after the first.",
    default: 12,
    min: 1,
    max: 100,
  }),
  CROWSNEST_NOTIFY_RETRY_MIN_DELAY_MS: envInteger({
    description:
      "Wait before the second try of a notification; doubled after each failed try up to the maximum.",
    default: 1000,
    min: 100,
    max: 600_000,
  }),
  CROWSNEST_NOTIFY_RETRY_MAX_DELAY_MS: envInteger({
    description: "Longest wait between two tries of a notification.",
    default: 60_000,
    min: 100,
    max: 3_600_000,
  }),
  CROWSNEST_NOTIFY_POLL_MS: envInteger({
    description:
      "How often each store instance looks for notifications due (a retry, or one another instance queued); its own are sent at once.",
    default: 1000,
    min: 100,
    max: 60_000,
  }),
} as const;

export interface StoreConfig {
  common: CommonConfig;
  hostName: string;
  databaseUrl: string;
  databasePoolSize: number;
  ingest: {
    batchSize: number;
    batchWaitMs: number;
    maxAckPending: number;
    ackWaitMs: number;
    statsWriteConcurrency: number;
  };
  alerts: {
    publishIntervalMs: number;
    sweepIntervalMs: number;
    configCheckIntervalMs: number;
  };
  retentionDays: {
    raw: number;
    minute: number;
    hourly: number;
    daily: number;
    events: number;
    alertHistory: number;
  };
  rollupIntervalMs: number;
  retentionIntervalMs: number;
  publicUrl: string | undefined;
  notify: {
    timeoutMs: number;
    maxAttempts: number;
    retryMinDelayMs: number;
    retryMaxDelayMs: number;
    pollMs: number;
  };
}

export function parseStoreConfig(env: EnvSource): StoreConfig {
  const values = parseEnv(storeEnv, env);
  return {
    common: commonConfigFrom(values),
    hostName: values.CROWSNEST_HOST_NAME,
    databaseUrl: values.CROWSNEST_DATABASE_URL,
    databasePoolSize: values.CROWSNEST_DATABASE_POOL_SIZE,
    ingest: {
      batchSize: values.CROWSNEST_INGEST_BATCH_SIZE,
      batchWaitMs: values.CROWSNEST_INGEST_BATCH_WAIT_MS,
      maxAckPending: values.CROWSNEST_INGEST_MAX_ACK_PENDING,
      ackWaitMs: values.CROWSNEST_INGEST_ACK_WAIT_MS,
      statsWriteConcurrency: values.CROWSNEST_INGEST_STATS_WRITE_CONCURRENCY,
    },
    alerts: {
      publishIntervalMs: values.CROWSNEST_ALERT_PUBLISH_INTERVAL_MS,
      sweepIntervalMs: values.CROWSNEST_ALERT_SWEEP_INTERVAL_MS,
      configCheckIntervalMs: values.CROWSNEST_ALERT_CONFIG_CHECK_INTERVAL_MS,
    },
    retentionDays: {
      raw: values.CROWSNEST_RETENTION_RAW_DAYS,
      minute: values.CROWSNEST_RETENTION_MINUTE_DAYS,
      hourly: values.CROWSNEST_RETENTION_HOURLY_DAYS,
      daily: values.CROWSNEST_RETENTION_DAILY_DAYS,
      events: values.CROWSNEST_RETENTION_EVENTS_DAYS,
      alertHistory: values.CROWSNEST_RETENTION_ALERT_HISTORY_DAYS,
    },
    rollupIntervalMs: values.CROWSNEST_ROLLUP_INTERVAL_MS,
    retentionIntervalMs: values.CROWSNEST_RETENTION_INTERVAL_MS,
    publicUrl: values.CROWSNEST_PUBLIC_URL,
    notify: {
      timeoutMs: values.CROWSNEST_NOTIFY_TIMEOUT_MS,
      maxAttempts: values.CROWSNEST_NOTIFY_MAX_ATTEMPTS,
      retryMinDelayMs: values.CROWSNEST_NOTIFY_RETRY_MIN_DELAY_MS,
      retryMaxDelayMs: values.CROWSNEST_NOTIFY_RETRY_MAX_DELAY_MS,
      pollMs: values.CROWSNEST_NOTIFY_POLL_MS,
    },
  };
}

export function readConfig(): StoreConfig {
  return parseStoreConfig(process.env);
}
