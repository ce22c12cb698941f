// The fault run, shared by `pnpm bench soak` (test/bench/soak.bench.ts: any scale, prints the
// figures) and its short form in CI (test/fault-run.int.test.ts: small, asserts them).
// Simulated hosts publish container samples and lifecycle events (synthetic readings, published
// as the collector and watcher do: JetStream, one message id per message, retried with the same
// id until acknowledged) into a NATS cluster (3 nodes, R3 streams; or 1 node at R1), drained by
// two store processes into a private Postgres; one real host runs a watcher on a private dockerd
// whose containers start and stop through the run. During the run: kill -9 the telemetry
// stream's leader node and restart it later, kill -9 one store, restart Postgres, restart the
// watcher's dockerd (private servers all: the shared ones are never touched). Returns samples
// and events published, stored, lost and stored twice, the end-to-end lag per tick (published →
// every sample of the tick committed) in steady state and around each fault, and each fault's
// time to recover. Everything it starts is stopped by PID however it ends.
import { codecs, createSubjects, streamName } from "@crowsnest/shared";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { createPrivatePostgres } from "../../services/store/src/fixtures/private-postgres.ts";
import { eventFixture, statsFixture } from "./bus-fixtures.ts";
import { type NatsNode, startNatsServers } from "./nats-servers.ts";
import { type ServiceProcess, startService } from "./service-process.ts";
import { type RecordedEvent, startWatcherHost, type WatcherHost } from "./soak-watcher-host.ts";

export interface FaultRunOptions {
  hosts: number;
  containers: number;
  intervalMs: number;
  durationMs: number;
  /** 3: three nodes at R3, one of them killed; 1: one node at R1, none killed (for comparison). */
  replicas: number;
  /** Lifecycle events of each simulated host per minute (0: none). */
  eventsPerHostPerMin: number;
  /** The killed NATS node is started again this long after its kill (the issue: a minute). */
  natsRestartAfterMs: number;
  /** How long Postgres stays down in its restart. */
  postgresDownMs: number;
  /** The one real host (a watcher on a private dockerd), or undefined to leave it out. */
  watcher?: { image: string; containers: number; churnEveryMs: number } | undefined;
  /** After the run, how long publishes are retried and the store is waited for. */
  finalWaitMs: number;
  /** Progress (each fault as it comes); silent when undefined. */
  log?: (line: string) => void;
}

export interface FaultFigures {
  name: string;
  /** When it came, from the first tick. */
  atMs: number;
  /** The worst lag of the ticks published from one interval before it to two after. */
  worstLagMs: number | undefined;
  /**
   * Until the first tick published after it was committed within the steady state's p99; for
   * the dockerd restart, until the store had the start event of each container started again.
   */
  recoveredAfterMs: number | undefined;
  /** What else recovering means for this fault (the restarted node rejoining, dockerd back). */
  detail?: string;
}

export interface FaultRunFigures {
  options: Omit<FaultRunOptions, "log">;
  /** From the first tick until everything was counted. */
  wallMs: number;
  ticksPublished: number;
  /** Ticks some sample of which was never committed. */
  ticksNeverComplete: number;
  samples: {
    /** Acknowledged by JetStream. */
    published: number;
    /** Still refused or unanswered `finalWaitMs` after the run: given up. */
    neverAcknowledged: number;
    /** Messages in the telemetry stream: more than published = stored twice there. */
    inStream: number;
    storedTwice: number;
    /** Rows in Postgres (its primary key keeps a sample once). */
    stored: number;
    lost: number;
    /** The store caught up with every acknowledged sample within the final wait. */
    drained: boolean;
  };
  /** The simulated hosts' events (stored twice: impossible, event_id is unique in Postgres). */
  events: { published: number; stored: number; lost: number };
  /** The real watcher's events as dockerd reported them, against what the store has. */
  watcherEvents?: { reported: number; exact: number; synthesized: number; lost: string[] };
  steadyLag: { p50Ms: number; p99Ms: number; ticks: number };
  faults: FaultFigures[];
  /** The restarted NATS node is a current replica of the project's streams again after this long. */
  natsNodeRejoinedAfterMs: number | undefined;
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export async function runFaultRun(options: FaultRunOptions): Promise<FaultRunFigures> {
  // What the run starts is stopped by PID however it ends, newest first.
  const cleanups: (() => unknown)[] = [];
  // Ends the waits still going on when the run ends early.
  const ended = new AbortController();
  try {
    return await faultRun(options, cleanups, ended.signal);
  } finally {
    ended.abort();
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  }
}

async function faultRun(
  options: FaultRunOptions,
  cleanups: (() => unknown)[],
  ended: AbortSignal,
): Promise<FaultRunFigures> {
  const waitFor = (probe: () => Promise<boolean>, timeoutMs: number) => waitUntil(probe, timeoutMs, ended);
  const firstTimeWhen = async (probe: () => Promise<boolean>, timeoutMs: number) =>
    (await waitFor(probe, timeoutMs)) ? Date.now() : undefined;
  const { hosts, containers, intervalMs, durationMs, replicas, eventsPerHostPerMin } = options;
  const log = options.log ?? (() => undefined);
  // A host publishes an event on every n-th tick (hosts take turns, so events spread over ticks).
  const eventEveryTicks = Math.max(1, Math.round(60_000 / intervalMs / Math.max(eventsPerHostPerMin, 1e-9)));

  // Every sample stays in the stream for the run (about 730 bytes each, docs/scaling.md), with room to spare.
  const samplesInRun = (hosts * containers * durationMs) / intervalMs;
  const servers = await startNatsServers({
    count: replicas,
    maxFileStoreGb: Math.max(1, Math.ceil((samplesInRun * 1500) / 1e9)),
  });
  cleanups.push(() => servers.remove());
  const postgres = await createPrivatePostgres();
  cleanups.push(() => postgres.remove());
  const subjects = createSubjects("soak");
  const telemetry = streamName(subjects, "telemetry");
  const storeEnv = {
    CROWSNEST_DATABASE_URL: postgres.url,
    CROWSNEST_NATS_URL: servers.urls.join(","),
    CROWSNEST_SUBJECT_PREFIX: subjects.prefix,
    CROWSNEST_STREAM_REPLICAS: String(replicas),
    CROWSNEST_LOG_LEVEL: "info",
    CROWSNEST_HOST_NAME: "soak-store",
  };
  const stores: ServiceProcess[] = [startService("store", storeEnv)];
  cleanups.push(() => Promise.all(stores.map((store) => store.stop().catch(() => undefined))));
  // The second store starts once the first has created the schema and the streams; the run once
  // both consume.
  await stores[0]?.waitForLog((record) => record.msg === "store started", 180_000);
  stores.push(startService("store", storeEnv));
  await stores[1]?.waitForLog((record) => record.msg === "store started", 180_000);
  const nc = await connect({ servers: [...servers.urls], maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  cleanups.push(() => nc.close());
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc, { timeout: 20_000 });
  const watcherHost: WatcherHost | undefined =
    options.watcher === undefined
      ? undefined
      : await startWatcherHost({
          natsUrls: servers.urls,
          subjectPrefix: subjects.prefix,
          streamReplicas: replicas,
          containers: options.watcher.containers,
          image: options.watcher.image,
        });
  if (watcherHost !== undefined) cleanups.push(() => watcherHost.remove());
  let churning = watcherHost !== undefined;
  const churner = (async () => {
    let nextChurnAt = Date.now() + (options.watcher?.churnEveryMs ?? 0);
    while (churning && watcherHost !== undefined && options.watcher !== undefined) {
      // In short steps, so that the end of the run does not wait for a whole interval.
      await sleep(Math.min(500, nextChurnAt - Date.now()));
      if (!churning || Date.now() < nextChurnAt) continue;
      nextChurnAt += options.watcher.churnEveryMs;
      await watcherHost.churn().catch(() => undefined);
    }
  })();
  const stopChurning = async () => {
    churning = false;
    await churner;
  };
  cleanups.push(stopChurning);

  const faults: { name: string; atMs: number; detail?: string }[] = [];
  const lags: { tickMs: number; lagMs: number }[] = [];
  const pendingTicks = new Map<string, number>();
  let published = 0;
  let eventsPublished = 0;
  let ticksPublished = 0;
  // Once the run is over, a message the bus still does not acknowledge is given up at this time.
  let giveUpAtMs = Number.POSITIVE_INFINITY;
  let neverAcknowledged = 0;
  let publishing = true;
  log("everything is up: the first tick");
  const startedAt = Date.now();
  const sinceStart = () => Date.now() - startedAt;

  /** As the agents publish: the same message id until JetStream acknowledges it. */
  const publishUntilAcknowledged = async (
    subject: string,
    data: Uint8Array,
    msgID: string,
  ): Promise<boolean> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await js.publish(subject, data, { msgID, timeout: 10_000 });
        return true;
      } catch {
        if (Date.now() > giveUpAtMs) {
          neverAcknowledged += 1;
          return false;
        }
        await sleep(Math.min(5000, 250 * 2 ** attempt));
      }
    }
  };

  const publisher = (async () => {
    for (let tick = 0; publishing; tick++) {
      const tickAt = startedAt + tick * intervalMs;
      await sleep(tickAt - Date.now());
      if (!publishing) break;
      ticksPublished += 1;
      const ts = new Date(tickAt).toISOString();
      pendingTicks.set(ts, Date.now());
      const sends: Promise<void>[] = [];
      for (let host = 0; host < hosts; host++) {
        for (let container = 0; container < containers; container++) {
          const message = statsFixture({
            ts,
            host: `soak-host-${host}`,
            cpu_percent: (host + container) % 100,
            interval_ms: intervalMs,
            container: { external_id: `${host}-${container}`.padStart(64, "0"), name: `c${container}` },
          });
          const encoded = codecs.stats.encode(message);
          if (!encoded.ok) throw new Error(encoded.detail);
          const msgID = `${message.host}/docker/${message.container.external_id}/${ts}`;
          sends.push(
            publishUntilAcknowledged(
              subjects.stats(message.host, "docker", message.container.name),
              encoded.data,
              msgID,
            ).then((acknowledged) => {
              if (acknowledged) published += 1;
            }),
          );
          // Every eventEveryTicks-th tick of each host, one container of it stops (hosts take turns).
          if (
            eventsPerHostPerMin > 0 &&
            container === tick % containers &&
            (tick + host) % eventEveryTicks === 0
          ) {
            const event = eventFixture({
              ts,
              action: "die",
              host: message.host,
              actor: { external_id: message.container.external_id, name: message.container.name },
              exit_code: 0,
            });
            const nanos = `${BigInt(tickAt) * 1_000_000n}`;
            const eventId = `${message.host}/docker/${nanos}/${message.container.external_id}/die`;
            const encodedEvent = codecs.event.encode({ ...event, ts_nano: nanos, event_id: eventId });
            if (!encodedEvent.ok) throw new Error(encodedEvent.detail);
            sends.push(
              publishUntilAcknowledged(
                subjects.event(message.host, "docker", "container", "die"),
                encodedEvent.data,
                eventId,
              ).then((acknowledged) => {
                if (acknowledged) eventsPublished += 1;
              }),
            );
          }
        }
      }
      await Promise.all(sends);
    }
  })();
  cleanups.push(() => {
    // A run that failed gives up what is not acknowledged at once.
    publishing = false;
    giveUpAtMs = 0;
    return publisher;
  });

  // Lag per tick: published → every sample of the tick committed. One poll at a time (a slow
  // one on a busy machine delays the next rather than piling up connections).
  const perTick = hosts * containers;
  let polling = true;
  const lagPoller = (async () => {
    while (polling) {
      const client = new pg.Client({ connectionString: postgres.url });
      // A Postgres restart ends the connection with an error event: the next poll connects anew.
      client.on("error", () => undefined);
      try {
        await client.connect();
        for (const [ts, publishedAtMs] of pendingTicks) {
          const result = await client.query("SELECT count(*)::int AS n FROM container_stats WHERE ts = $1", [
            ts,
          ]);
          if (result.rows[0].n >= perTick) {
            lags.push({ tickMs: publishedAtMs - startedAt, lagMs: Date.now() - publishedAtMs });
            pendingTicks.delete(ts);
          }
        }
      } catch {
        // Postgres restarting: the next poll counts again.
      } finally {
        await client.end().catch(() => undefined);
      }
      await sleep(250);
    }
  })();
  const stopPolling = async () => {
    polling = false;
    await lagPoller;
  };
  cleanups.push(stopPolling);

  const at = (fraction: number) => sleep(startedAt + durationMs * fraction - Date.now());
  const fault = (name: string) => {
    faults.push({ name, atMs: sinceStart() });
    log(`${(sinceStart() / 1000).toFixed(1)} s: ${name}`);
  };

  // Fault 1: the telemetry stream's leader node, restarted natsRestartAfterMs later.
  await at(0.2);
  let victim: NatsNode | undefined;
  let natsRejoined: Promise<number | undefined> = Promise.resolve(undefined);
  if (replicas > 1) {
    const leader = await streamLeader(jsm, telemetry);
    victim = servers.nodes.find((node) => node.name === leader) ?? servers.nodes[0];
  }
  if (victim !== undefined) {
    const killedAtMs = Date.now();
    fault(`kill -9 NATS node ${victim.name} (stream leader)`);
    await victim.kill();
    await sleep(killedAtMs + options.natsRestartAfterMs - Date.now());
    fault(`restart NATS node ${victim.name}`);
    const restartedAtMs = Date.now();
    await victim.start();
    const restarted = victim;
    // Recovered once every stream of the project counts it as a current replica again.
    natsRejoined = firstTimeWhen(async () => {
      for (const role of ["telemetry", "events"] as const) {
        const info = await jsm.streams.info(streamName(subjects, role));
        const replica = info.cluster?.replicas?.find((each) => each.name === restarted.name);
        const current =
          info.cluster?.leader === restarted.name || (replica?.current === true && !replica.offline);
        if (!current) return false;
      }
      return true;
    }, options.finalWaitMs).then((when) => (when === undefined ? undefined : when - restartedAtMs));
  }
  // Fault 2: one store instance.
  await at(0.55);
  fault("kill -9 one store");
  await stores[0]?.kill();
  // Fault 3: Postgres.
  await at(0.7);
  fault("restart Postgres");
  postgres.stop();
  await sleep(options.postgresDownMs);
  postgres.start();
  // Fault 4: the real watcher's dockerd (a private one), its containers started again after it.
  let dockerdRecovery: Promise<DockerdRecovery> | undefined;
  if (watcherHost !== undefined) {
    await at(0.85);
    fault("restart the watcher's dockerd");
    const restart = await watcherHost.restartDockerd();
    const host = watcherHost.host;
    // Watched while the run goes on: recovered once the store has the start of every container
    // started again.
    dockerdRecovery = firstTimeWhen(async () => {
      const now = await storedEvents(postgres.url, host);
      return restart.restartedIds.every((id) =>
        now.watcher.some(
          (e) => e.externalId === id && e.action === "start" && e.tsMs >= restart.upAgainAtMs - 1000,
        ),
      );
    }, options.finalWaitMs).then((storedAtMs) => ({ ...restart, storedAtMs }));
  }
  await at(1);
  publishing = false;
  giveUpAtMs = Date.now() + options.finalWaitMs;
  await stopChurning();
  await publisher;

  const drained = await waitFor(
    async () => ((await countRows(postgres.url)) ?? 0) >= published,
    options.finalWaitMs,
  );
  // Events have their own stream and consumer: waited for the same way, and the real watcher's
  // until each event dockerd reported is accounted for.
  await waitFor(async () => {
    const now = await storedEvents(postgres.url, watcherHost?.host);
    const watcherDone =
      watcherHost === undefined || compareWatcherEvents(watcherHost.recorded(), now).lost.length === 0;
    return now.simulated >= eventsPublished && watcherDone;
  }, options.finalWaitMs);
  // The last ticks' lags, once they are committed.
  await waitFor(async () => pendingTicks.size === 0, drained ? 10_000 : 0);
  await stopPolling();
  const stored = (await countRows(postgres.url)) ?? 0;
  const inStream = (await retried(() => jsm.streams.info(telemetry), 60_000)).state.messages;
  const events = await storedEvents(postgres.url, watcherHost?.host);
  const watcherEvents =
    watcherHost === undefined ? undefined : compareWatcherEvents(watcherHost.recorded(), events);
  const dockerdRecovered = await dockerdRecovery;
  const natsNodeRejoinedAfterMs = await natsRejoined;
  const wallMs = sinceStart();

  const steady = lags.filter((lag) =>
    faults.every((each) => Math.abs(lag.tickMs - each.atMs) > 2 * intervalMs),
  );
  const steadyP99 = percentile(
    steady.map((l) => l.lagMs),
    0.99,
  );
  const faultFigures = faults.map((each): FaultFigures => {
    const near = lags.filter(
      (lag) => lag.tickMs >= each.atMs - intervalMs && lag.tickMs <= each.atMs + 2 * intervalMs,
    );
    const recovered = lags
      .filter((lag) => lag.tickMs >= each.atMs && lag.lagMs <= steadyP99)
      .map((lag) => lag.tickMs + lag.lagMs)
      .sort((a, b) => a - b)[0];
    const figures: FaultFigures = {
      name: each.name,
      atMs: each.atMs,
      worstLagMs: near.length ? Math.max(...near.map((l) => l.lagMs)) : undefined,
      recoveredAfterMs: recovered === undefined ? undefined : recovered - each.atMs,
    };
    if (each.name.startsWith("restart NATS node")) {
      figures.detail =
        natsNodeRejoinedAfterMs === undefined
          ? "the node never became a current replica of the streams again"
          : `a current replica of the streams again after ${(natsNodeRejoinedAfterMs / 1000).toFixed(1)} s`;
    }
    if (each.name.includes("dockerd") && dockerdRecovered !== undefined) {
      const { stoppedAtMs, upAgainAtMs, storedAtMs } = dockerdRecovered;
      figures.recoveredAfterMs = storedAtMs === undefined ? undefined : storedAtMs - stoppedAtMs;
      figures.detail = `until the store had the start event of each of its ${dockerdRecovered.restartedIds.length} containers started again; dockerd itself was back after ${((upAgainAtMs - stoppedAtMs) / 1000).toFixed(1)} s`;
    }
    return figures;
  });

  const { log: _progress, ...settings } = options;
  return {
    options: settings,
    wallMs,
    ticksPublished,
    ticksNeverComplete: pendingTicks.size,
    samples: {
      published,
      neverAcknowledged,
      inStream,
      storedTwice: Math.max(0, inStream - published),
      stored,
      lost: Math.max(0, published - stored),
      drained,
    },
    events: {
      published: eventsPublished,
      stored: events.simulated,
      lost: Math.max(0, eventsPublished - events.simulated),
    },
    ...(watcherEvents === undefined ? {} : { watcherEvents }),
    steadyLag: {
      p50Ms: percentile(
        steady.map((l) => l.lagMs),
        0.5,
      ),
      p99Ms: steadyP99,
      ticks: steady.length,
    },
    faults: faultFigures,
    natsNodeRejoinedAfterMs,
  };
}

/** The figures as `pnpm bench soak` prints them, one line each. */
export function describeFaultRun(figures: FaultRunFigures): string[] {
  const { options, samples, events, watcherEvents, steadyLag } = figures;
  const seconds = (ms: number | undefined) => (ms === undefined ? "n/a" : `${(ms / 1000).toFixed(1)} s`);
  const lines = [
    `${options.hosts} hosts × ${options.containers} containers every ${options.intervalMs} ms (${(options.hosts * options.containers * 1000) / options.intervalMs} samples/s) for ${options.durationMs / 1000} s, R${options.replicas} on ${options.replicas} node(s), two stores${options.watcher ? ", one real watcher on a private dockerd" : ""}; ${figures.ticksPublished} ticks, ${seconds(figures.wallMs)} from the first tick until everything was counted`,
    `samples published (acknowledged): ${samples.published}`,
  ];
  if (samples.neverAcknowledged > 0) {
    lines.push(
      `never acknowledged ${options.finalWaitMs / 1000} s after the run: ${samples.neverAcknowledged} (the bus refused or did not answer them; see the NATS nodes' logs)`,
    );
  }
  lines.push(
    `in the stream: ${samples.inStream}; stored twice: ${samples.storedTwice}`,
    `stored: ${samples.stored}; lost: ${samples.lost}${samples.drained ? "" : " (store did not catch up in time)"}`,
    `lag per tick, steady state: p50 ${steadyLag.p50Ms} ms, p99 ${steadyLag.p99Ms} ms (${steadyLag.ticks} ticks)`,
    `events of the simulated hosts: published ${events.published}, stored ${events.stored}, lost ${events.lost} (stored twice: impossible, event_id is unique)`,
  );
  if (watcherEvents !== undefined) {
    lines.push(
      `events of the real watcher: dockerd reported ${watcherEvents.reported}; stored as reported ${watcherEvents.exact}, stored as synthesized (dockerd lost them in its restart) ${watcherEvents.synthesized}, lost ${watcherEvents.lost.length}${watcherEvents.lost.length ? ` (${watcherEvents.lost.slice(0, 5).join(", ")})` : ""}`,
    );
  }
  for (const fault of figures.faults) {
    lines.push(
      `${fault.name} at ${(fault.atMs / 1000).toFixed(0)} s: worst lag of the ticks around it ${fault.worstLagMs ?? "n/a"} ms; time to recover ${fault.recoveredAfterMs === undefined ? "not within the run" : seconds(fault.recoveredAfterMs)}${fault.detail ? ` (${fault.detail})` : ""}`,
    );
  }
  lines.push(`ticks never complete: ${figures.ticksNeverComplete}`);
  return lines;
}

async function streamLeader(jsm: JetStreamManager, stream: string): Promise<string | undefined> {
  return (await retried(() => jsm.streams.info(stream), 60_000)).cluster?.leader;
}

/** `call` retried every 500 ms while it throws (a cluster electing leaders), for up to `timeoutMs`. */
async function retried<T>(call: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}

async function countRows(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.query("SELECT count(*)::int AS n FROM container_stats")).rows[0].n as number;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface StoredEvents {
  /** Events of the simulated hosts. */
  simulated: number;
  /** Events of the real watcher's host. */
  watcher: { eventId: string; externalId: string; action: string; synthesized: boolean; tsMs: number }[];
}

async function storedEvents(url: string, watcherHost: string | undefined): Promise<StoredEvents> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const simulated = (
      await client.query("SELECT count(*)::int AS n FROM container_events WHERE event_id LIKE 'soak-host-%'")
    ).rows[0].n as number;
    const watcher =
      watcherHost === undefined
        ? []
        : (
            await client.query(
              `SELECT e.event_id, c.external_id, e.action, e.synthesized, e.ts
               FROM container_events e JOIN containers c ON c.id = e.container_id WHERE e.event_id LIKE $1`,
              [`${watcherHost}/%`],
            )
          ).rows.map((row) => ({
            eventId: row.event_id as string,
            externalId: row.external_id as string,
            action: row.action as string,
            synthesized: row.synthesized as boolean,
            tsMs: (row.ts as Date).getTime(),
          }));
    return { simulated, watcher };
  } catch {
    return { simulated: 0, watcher: [] };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Each event dockerd reported, found in the store by its event id, or else as an event the
 * watcher synthesized for the same container and action (a transition dockerd's event log lost
 * in its restart, which the watcher's state tracker publishes instead), or lost.
 */
function compareWatcherEvents(recorded: readonly RecordedEvent[], stored: StoredEvents) {
  const byId = new Set(stored.watcher.map((event) => event.eventId));
  const synthesized = stored.watcher.filter((event) => event.synthesized);
  const used = new Set<string>();
  let exact = 0;
  let bySynthesized = 0;
  const lost: string[] = [];
  for (const event of recorded) {
    if (byId.has(event.eventId)) {
      exact += 1;
      continue;
    }
    const stand = synthesized.find(
      (each) =>
        !used.has(each.eventId) && each.externalId === event.externalId && each.action === event.action,
    );
    if (stand === undefined) lost.push(`${event.action} of ${event.externalId.slice(0, 12)}`);
    else {
      used.add(stand.eventId);
      bySynthesized += 1;
    }
  }
  return { reported: recorded.length, exact, synthesized: bySynthesized, lost };
}

interface DockerdRecovery {
  stoppedAtMs: number;
  upAgainAtMs: number;
  restartedIds: string[];
  /** When the store had the start event of every container started again. */
  storedAtMs: number | undefined;
}

/**
 * Whether `probe` held (a probe that throws has not) within `timeoutMs`, polled every 500 ms;
 * false at once when `signal` aborts.
 */
async function waitUntil(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!signal.aborted) {
    if (await probe().catch(() => false)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(500);
  }
  return false;
}
