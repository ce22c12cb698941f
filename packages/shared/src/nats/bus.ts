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
   * Settles when the connection is gone for good: closed (drained, or the client gave up, e.g.
   * the server refused its credentials twice in a row), or refused since it was lost the way
   * NATS refuses a first connection that can never work (nats-connection.ts); with the reason,
   * if any (a NatsSetupError for a refusal).
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
  /** False: requests' errors without the caller's stack, for a client whose CPU per request counts (see connectNats). */
  asyncTraces?: boolean;
}): Promise<Bus> {
  const { config, logger } = options;
  const subjects = createSubjects(config.subjectPrefix);
  const { nc, isConnected, lost } = await connectNats({
    servers: config.natsServers,
    token: config.natsToken,
    user: config.natsUser,
    inboxPrefix: config.natsInboxPrefix,
    tls: config.natsTls,
    name: `crowsnest-${options.service}@${options.host}`,
    asyncTraces: options.asyncTraces,
    logger,
  });
  try {
    const setUp = (async () =>
      ensureStreams(
        await openJetStreamManager(nc, logger),
        streamDefinitions(subjects, config.streamRetention, config.streamReplicas),
        logger,
      ))();
    // Lost for good while the streams are set up (before the service watches for it): the
    // reason stops the start, instead of the administration calls' retries hiding it.
    const lostFirst = await Promise.race([
      setUp.then(() => undefined),
      lost().then(
        (reason) => reason ?? new Error("the NATS connection was closed while the streams were set up"),
      ),
    ]);
    if (lostFirst !== undefined) {
      setUp.catch(() => undefined);
      throw lostFirst;
    }
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
    closed: lost,
    async drain() {
      if (!nc.isClosed()) await nc.drain();
    },
  };
}
