// The bus as every service opens it: a NATS connection that reconnects forever, a JetStream
// client, the subject builders, and the streams created or updated before anything is published.
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { CommonConfig } from "../config/common-env.ts";
import { openJetStreamManager } from "../jetstream/jetstream-admin.ts";
import { ensureStreams, streamDefinitions } from "../jetstream/streams.ts";
import type { Logger } from "../log/logger.ts";
import { createSubjects, type ServiceName, type Subjects } from "../subjects/subjects.ts";
import { connectNats } from "./nats-connection.ts";

export interface Bus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly subjects: Subjects;
  /** CROWSNEST_STREAM_REPLICAS, for the streams and buckets a service creates itself. */
  readonly streamReplicas: number;
  /** Whether NATS answers now: false while reconnecting, and for good once closed. */
  isConnected(): boolean;
  /**
   * Settles when the connection is closed for good (drained, or the client gave up, e.g. the
   * server refused its credentials twice in a row); with the error that closed it, if any.
   */
  closed(): Promise<Error | undefined>;
  /** Flushes what was published and closes the connection. */
  drain(): Promise<void>;
}

export async function openBus(options: {
  config: CommonConfig;
  service: ServiceName;
  host: string;
  logger: Logger;
}): Promise<Bus> {
  const { config, logger } = options;
  const subjects = createSubjects(config.subjectPrefix);
  const { nc, isConnected } = await connectNats({
    servers: config.natsServers,
    token: config.natsToken,
    user: config.natsUser,
    inboxPrefix: config.natsInboxPrefix,
    tls: config.natsTls,
    name: `crowsnest-${options.service}@${options.host}`,
    logger,
  });
  try {
    await ensureStreams(
      await openJetStreamManager(nc, logger),
      streamDefinitions(subjects, config.streamRetention, config.streamReplicas),
      logger,
    );
  } catch (error) {
    await nc.close();
    throw error;
  }
  return {
    nc,
    js: jetstream(nc),
    subjects,
    streamReplicas: config.streamReplicas,
    isConnected,
    closed: () => nc.closed().then((reason) => (reason instanceof Error ? reason : undefined)),
    async drain() {
      if (!nc.isClosed()) await nc.drain();
    },
  };
}
