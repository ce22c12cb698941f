// The store's composition root: migrates Postgres, then drains the bus's durable consumers
// into it (evaluating alerts as samples and events land), and runs the rollup, retention and
// alert jobs, until SIGTERM. What it opens is released in reverse order on shutdown; a startup
// failure (database, bus, streams) is one fatal log line and exit 1, as is losing the NATS
// connection for good (service-lifecycle.ts).
import {
  codecs,
  createDeadletterSink,
  createLogger,
  ensureConsumers,
  openBus,
  openJetStreamManager,
  retryUntilReady,
  runService,
  startHeartbeat,
  storeConsumerDefinitions,
  streamName,
} from "@crowsnest/shared";
import { sendNotification, smtpTransport } from "@crowsnest/shared/notify";
import { openPostgres } from "@crowsnest/shared/postgres";
import { AlertConfigCache } from "./alerts/alert-config-cache.ts";
import { AlertEngine } from "./alerts/alert-engine.ts";
import { AlertPublisher } from "./alerts/alert-publisher.ts";
import { readConfig } from "./config.ts";
import type { StoreDatabase } from "./db/database.ts";
import { isDataError } from "./db/errors.ts";
import { migrateToLatest } from "./db/migrations.ts";
import { BatchConsumer } from "./ingest/batch-consumer.ts";
import { ContainerDirectory } from "./ingest/container-directory.ts";
import { writeEvents } from "./ingest/event-writer.ts";
import { HostStatsWriter } from "./ingest/host-stats-writer.ts";
import { writeInventories } from "./ingest/inventory-writer.ts";
import { rawAgeGuard } from "./ingest/raw-age-guard.ts";
import { StatsDecoder } from "./ingest/stats-decoder.ts";
import { StatsWriter } from "./ingest/stats-writer.ts";
import {
  eventSubjectGuard,
  hostStatsSubjectGuard,
  inventorySubjectGuard,
  statsSubjectGuard,
} from "./ingest/subject-guard.ts";
import { PeriodicJob } from "./jobs/periodic-job.ts";
import {
  NOTIFY_CONSUMER,
  NotificationConsumer,
  notifyConsumerDefinition,
} from "./notifications/notification-consumer.ts";
import { NotificationDispatcher } from "./notifications/notification-dispatcher.ts";
import { NotificationFanout } from "./notifications/notification-fanout.ts";
import { RetentionJob } from "./retention/retention-job.ts";
import { MINUTE_JOB_PHASE_MS, RollupJob } from "./rollup/rollup-job.ts";

runService("store", async (lifecycle) => {
  const config = readConfig();
  const logger = createLogger({ service: "store", level: config.common.logLevel, host: config.hostName });
  lifecycle.configure({ logger, shutdownTimeoutMs: config.common.shutdownTimeoutMs });
  // Its worker thread loads its code while the database is migrated and the bus connected.
  const statsDecoder = new StatsDecoder({ logger });
  lifecycle.defer("stats decoder", () => statsDecoder.close());

  const database = openPostgres<StoreDatabase>({
    url: config.databaseUrl,
    poolSize: config.databasePoolSize,
    applicationName: `crowsnest-store@${config.hostName}`,
    onIdleError: (error) => logger.warn({ err: error }, "idle Postgres connection failed"),
  });
  lifecycle.defer("Postgres pool", () => database.destroy());
  const applied = await retryUntilReady({
    what: "Postgres migration",
    attempt: () => migrateToLatest(database.db),
    logger,
    isStopping: () => lifecycle.stopping,
  });
  if (applied === undefined) return;
  logger.info({ applied }, "database schema is current");

  const bus = await openBus({ config: config.common, service: "store", host: config.hostName, logger });
  lifecycle.defer("NATS connection", () => bus.drain());
  lifecycle.exitWhenLost("NATS connection", bus.closed());
  const consumerDefinitions = storeConsumerDefinitions(bus.subjects, {
    maxAckPending: config.ingest.maxAckPending,
    ackWaitMs: config.ingest.ackWaitMs,
  });
  const notifyDefinition = notifyConsumerDefinition(bus.subjects, { ackWaitMs: config.ingest.ackWaitMs });
  await ensureConsumers(
    await openJetStreamManager(bus.nc, logger),
    [...consumerDefinitions, notifyDefinition],
    logger,
  );

  const directory = new ContainerDirectory(database.db);
  const statsWriter = new StatsWriter({
    pool: database.pool,
    directory,
    onContainerIds: (entries) => statsDecoder.learn(entries),
  });
  const hostStatsWriter = new HostStatsWriter({ pool: database.pool });
  const deadletters = createDeadletterSink({
    js: bus.js,
    nc: bus.nc,
    subjects: bus.subjects,
    service: "store",
    logger,
  });

  const alertPublisher = new AlertPublisher({ db: database.db, js: bus.js, subjects: bus.subjects, logger });
  // What the last batches fired goes out before the connection closes (the rest on next start).
  lifecycle.defer("alert transitions not yet published", () =>
    alertPublisher.publishPending().catch((error: unknown) => {
      logger.warn({ err: error }, "could not publish the last alert transitions; they go out on next start");
    }),
  );
  const publisherJob = new PeriodicJob({
    name: "alert publisher",
    intervalMs: config.alerts.publishIntervalMs,
    run: async () => void (await alertPublisher.publishPending()),
    logger,
  });
  const alertConfigs = new AlertConfigCache({ db: database.db, logger });
  const alertEngine = new AlertEngine({
    db: database.db,
    configs: alertConfigs,
    logger,
    onTransitions: () => void publisherJob.runNow(),
  });
  const rollups = new RollupJob({ db: database.db, logger, rawRetentionDays: config.retentionDays.raw });
  const minuteRollups = new RollupJob({
    db: database.db,
    logger,
    rawRetentionDays: config.retentionDays.raw,
    minuteRetentionDays: config.retentionDays.minute,
    granularities: ["minute"],
  });
  const retention = new RetentionJob({
    db: database.db,
    pool: database.pool,
    logger,
    days: config.retentionDays,
  });
  const jobs = [
    publisherJob,
    new PeriodicJob({
      name: "rollups",
      intervalMs: config.rollupIntervalMs,
      run: async () => void (await rollups.run()),
      logger,
    }),
    new PeriodicJob({
      name: "minute rollups",
      intervalMs: config.rollupIntervalMs,
      phaseMs: MINUTE_JOB_PHASE_MS,
      run: async () => void (await minuteRollups.run()),
      logger,
    }),
    new PeriodicJob({
      name: "retention",
      intervalMs: config.retentionIntervalMs,
      run: async () => void (await retention.run()),
      logger,
    }),
    new PeriodicJob({
      name: "alert configuration",
      intervalMs: config.alerts.configCheckIntervalMs,
      run: () => alertConfigs.refreshIfChanged(),
      logger,
    }),
    new PeriodicJob({
      name: "alert sweep",
      intervalMs: config.alerts.sweepIntervalMs,
      run: () => alertEngine.sweep(),
      logger,
    }),
  ];

  // Raw samples from days the retention no longer keeps are dead-lettered, not stored.
  const refuseTooOld = rawAgeGuard({ rawRetentionDays: config.retentionDays.raw });
  const statsSubject = statsSubjectGuard(bus.subjects);
  const hostStatsSubject = hostStatsSubjectGuard(bus.subjects);
  let databaseReachable = true;
  const common = {
    isDataError,
    deadletters,
    batchSize: config.ingest.batchSize,
    batchWaitMs: config.ingest.batchWaitMs,
    ackWaitMs: config.ingest.ackWaitMs,
    logger,
    onWriteOutcome: (ok: boolean) => {
      databaseReachable = ok;
    },
  };
  const source = (role: "stats" | "events" | "inventory" | "host", stream: "telemetry" | "events") =>
    bus.js.consumers.get(streamName(bus.subjects, stream), `store-${role}`);
  const consumers = [
    new BatchConsumer({
      ...common,
      name: "stats",
      source: await source("stats", "telemetry"),
      // Off the main thread (stats-decoder.ts).
      decodeBatch: (data) => statsDecoder.decode(data),
      refuse: (sample, subject) => statsSubject(sample, subject) ?? refuseTooOld(sample),
      write: (samples) => statsWriter.write(samples),
      // Late rollup buckets are marked and alerts evaluated after the samples commit and before
      // they are acked, batch after batch in delivery order (rollup-marks.ts, alert-engine.ts).
      afterWrite: async (samples, ids) => {
        await statsWriter.markLateBuckets(samples, ids);
        await alertEngine.evaluateSamples(samples, ids);
      },
      writeConcurrency: config.ingest.statsWriteConcurrency,
    }),
    new BatchConsumer({
      ...common,
      name: "host",
      source: await source("host", "telemetry"),
      decode: codecs.hostStats.decode,
      refuse: (sample, subject) => hostStatsSubject(sample, subject) ?? refuseTooOld(sample),
      write: (samples) => hostStatsWriter.write(samples),
    }),
    new BatchConsumer({
      ...common,
      name: "events",
      source: await source("events", "events"),
      decode: codecs.event.decode,
      refuse: eventSubjectGuard(bus.subjects),
      write: (events) => writeEvents(database.db, directory, events),
      afterWrite: (events, ids) => alertEngine.evaluateEvents(events, ids),
    }),
    new BatchConsumer({
      ...common,
      name: "inventory",
      source: await source("inventory", "events"),
      decode: codecs.inventory.decode,
      refuse: inventorySubjectGuard(bus.subjects),
      write: (inventories) => writeInventories(database.db, directory, inventories),
    }),
  ];
  // Alert transitions to notification channels (docs/notifications.md).
  const dispatcher = new NotificationDispatcher({
    db: database.db,
    logger,
    instanceId: `${config.hostName}/${process.pid}/${crypto.randomUUID().slice(0, 8)}`,
    send: (target, notification) =>
      sendNotification(target, notification, { timeoutMs: config.notify.timeoutMs, email: smtpTransport }),
    policy: {
      ...config.notify,
      // Outlives any send, so a slow channel never lets a second instance send the same message.
      leaseMs: Math.max(30_000, config.notify.timeoutMs * 3),
    },
  });
  const fanout = new NotificationFanout({ db: database.db, publicUrl: config.publicUrl });
  const notificationConsumer = new NotificationConsumer({
    source: await bus.js.consumers.get(streamName(bus.subjects, "alerts"), NOTIFY_CONSUMER),
    fanOut: (transitionId) => fanout.fanOut(transitionId),
    onQueued: () => dispatcher.wake(),
    isDataError,
    deadletters,
    ackWaitMs: config.ingest.ackWaitMs,
    logger,
  });

  for (const job of jobs) job.start();
  lifecycle.defer("periodic jobs", () => Promise.all(jobs.map((job) => job.stop())));
  dispatcher.start();
  lifecycle.defer("notification dispatcher", () => dispatcher.stop());
  notificationConsumer.start();
  lifecycle.defer("notification consumer", () => notificationConsumer.stop());
  for (const consumer of consumers) consumer.start();
  // Batches in flight are written and acked before the jobs and the bus stop.
  lifecycle.defer("ingest consumers", () => Promise.all(consumers.map((consumer) => consumer.stop())));
  // First thing on shutdown: a rollup or retention catch-up ends after the bucket in hand (the
  // next start resumes it) while the consumers finish their batches.
  lifecycle.defer("rollup and retention catch-ups", () => {
    rollups.stop();
    minuteRollups.stop();
    retention.stop();
  });
  const heartbeat = startHeartbeat({
    nc: bus.nc,
    subjects: bus.subjects,
    host: config.hostName,
    service: "store",
    runtime: null,
    intervalMs: config.common.heartbeatIntervalMs,
    livenessFile: config.common.livenessFile,
    isConnected: () => databaseReachable,
    logger,
  });
  lifecycle.defer("heartbeat", () => heartbeat.stop());
  logger.info(
    { consumers: [...consumerDefinitions, notifyDefinition].map((d) => d.config.durable_name) },
    "store started",
  );
});
