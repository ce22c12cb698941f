// `pnpm bench soak`: the fault run. Simulated hosts publish container samples and lifecycle
// events (synthetic readings, published as the collector and watcher do: JetStream, one message
// id per message, retried with the same id until acknowledged) into a 3-node NATS cluster with
// R3 streams, drained by two store processes into a private Postgres; one real host runs a
// watcher on a private dockerd whose containers start and stop through the run. During the run:
// kill -9 the telemetry stream's leader node (restarted a minute later), kill -9 one store, restart
// Postgres, restart the watcher's dockerd (a private one: the shared dockerd is never touched).
// Prints samples and events published, stored, lost and stored twice, the end-to-end lag per
// tick (published → every sample of the tick committed) in steady state and around each fault,
// and each fault's time to recover.
//
// Knobs (environment): SOAK_PRESET=full is the issue's scale (1000 hosts × 50 containers every
// 10 s, 5 000 samples/s, for 330 s); without it a short form (100 × 50 for 150 s). Each of these
// overrides the preset: SOAK_HOSTS, SOAK_CONTAINERS, SOAK_INTERVAL_MS, SOAK_DURATION_MS,
// SOAK_EVENTS_PER_HOST_PER_MIN (1), SOAK_REPLICAS (3; 1 runs one node, for comparison, and kills
// no node), SOAK_WATCHER (1; 0 leaves out the real host and its dockerd restart).
//   SOAK_PRESET=full pnpm bench soak                      the full run
//   SOAK_PRESET=full SOAK_REPLICAS=1 pnpm bench soak      the same at R1 on one node

import { codecs, createSubjects, streamName } from "@crowsnest/shared";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { createPrivatePostgres } from "../../services/store/src/fixtures/private-postgres.ts";
import { eventFixture, statsFixture } from "../support/bus-fixtures.ts";
import { startNatsServers } from "../support/nats-servers.ts";
import { type ServiceProcess, startService } from "../support/service-process.ts";
import { startWatcherHost, type WatcherHost } from "./support/soak-watcher-host.ts";

const FULL = process.env.SOAK_PRESET === "full";
/** How long, after the run, publishes are retried and the store is waited for. */
const FINAL_WAIT_MS = 120_000;
const numberFrom = (name: string, short: number, full = short) =>
  Number(process.env[name] ?? (FULL ? full : short));

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

export async function run(): Promise<void> {
  // What the run starts is stopped by PID however it ends, newest first.
  const cleanups: (() => unknown)[] = [];
  try {
    await soak(cleanups);
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  }
}

async function soak(cleanups: (() => unknown)[]): Promise<void> {
  const hosts = numberFrom("SOAK_HOSTS", 100, 1000);
  const containers = numberFrom("SOAK_CONTAINERS", 50);
  const intervalMs = numberFrom("SOAK_INTERVAL_MS", 10_000);
  const durationMs = numberFrom("SOAK_DURATION_MS", 150_000, 330_000);
  const replicas = numberFrom("SOAK_REPLICAS", 3);
  const eventsPerHostPerMin = numberFrom("SOAK_EVENTS_PER_HOST_PER_MIN", 1);
  const withWatcher = numberFrom("SOAK_WATCHER", 1) === 1;
  // A host publishes an event on every n-th tick (hosts take turns, so events spread over ticks).
  const eventEveryTicks = Math.max(1, Math.round(60_000 / intervalMs / Math.max(eventsPerHostPerMin, 1e-9)));
  console.log(
    `${hosts} hosts × ${containers} containers every ${intervalMs} ms (${(hosts * containers * 1000) / intervalMs} samples/s, ${eventsPerHostPerMin > 0 ? ((hosts * 1000) / intervalMs / eventEveryTicks).toFixed(1) : 0} events/s) for ${durationMs / 1000} s, R${replicas} on ${replicas} node(s), two stores${withWatcher ? ", one real watcher on a private dockerd" : ""}`,
  );

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
  const storeEnv = {
    CROWSNEST_DATABASE_URL: postgres.url,
    CROWSNEST_NATS_URL: servers.urls.join(","),
    CROWSNEST_SUBJECT_PREFIX: subjects.prefix,
    CROWSNEST_STREAM_REPLICAS: String(replicas),
    CROWSNEST_LOG_LEVEL: "warn",
    CROWSNEST_HOST_NAME: "soak-store",
  };
  const stores: ServiceProcess[] = [startService("store", storeEnv)];
  cleanups.push(() => Promise.all(stores.map((store) => store.stop().catch(() => undefined))));
  // The second store starts once the first has created the schema and the streams.
  await waitFor(async () => (await countRows(postgres.url).catch(() => undefined)) !== undefined, 60_000);
  stores.push(startService("store", storeEnv));
  const nc = await connect({ servers: [...servers.urls], maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  cleanups.push(() => nc.close());
  const js = jetstream(nc);
  const watcherHost: WatcherHost | undefined = withWatcher
    ? await startWatcherHost({
        natsUrls: servers.urls,
        subjectPrefix: subjects.prefix,
        streamReplicas: replicas,
        containers: 3,
      })
    : undefined;
  if (watcherHost !== undefined) cleanups.push(() => watcherHost.remove());
  const churner = setInterval(() => void watcherHost?.churn().catch(() => undefined), 15_000);
  cleanups.push(() => clearInterval(churner));

  const faults: { name: string; atMs: number; recoveredMs?: number }[] = [];
  const lags: { tickMs: number; lagMs: number }[] = [];
  const pendingTicks = new Map<string, number>();
  let published = 0;
  let eventsPublished = 0;
  // Once the run is over, a message the bus still does not acknowledge is given up at this time.
  let giveUpAtMs = Number.POSITIVE_INFINITY;
  let neverAcknowledged = 0;
  let publishing = true;
  const startedAt = Date.now();

  /** As the agents publish: the same message id until JetStream acknowledges it. */
  const publishUntilAcknowledged = async (
    subject: string,
    data: Uint8Array,
    msgID: string,
  ): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await js.publish(subject, data, { msgID, timeout: 10_000 });
        return;
      } catch {
        if (Date.now() > giveUpAtMs) {
          neverAcknowledged += 1;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt)));
      }
    }
  };

  const publisher = (async () => {
    for (let tick = 0; publishing; tick++) {
      const tickAt = startedAt + tick * intervalMs;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, tickAt - Date.now())));
      if (!publishing) break;
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
            ).then(() => {
              published += 1;
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
              ).then(() => {
                eventsPublished += 1;
              }),
            );
          }
        }
      }
      await Promise.all(sends);
    }
  })();

  // Lag per tick: published → every sample of the tick committed.
  const perTick = hosts * containers;
  const lagPoller = setInterval(() => {
    void (async () => {
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
    })();
  }, 250);
  cleanups.push(() => {
    publishing = false;
    clearInterval(lagPoller);
  });

  const at = (fraction: number) =>
    new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, startedAt + durationMs * fraction - Date.now())),
    );
  // Fault 1: the telemetry stream's leader node, restarted a while later.
  await at(0.2);
  const jsm = await jetstreamManager(nc, { timeout: 20_000 });
  const leader = (await jsm.streams.info(streamName(subjects, "telemetry"))).cluster?.leader;
  const victim = servers.nodes.find((node) => node.name === leader) ?? servers.nodes[0];
  const killedAtMs = Date.now();
  if (victim && replicas > 1) {
    faults.push({ name: `kill -9 NATS node ${victim.name} (stream leader)`, atMs: killedAtMs - startedAt });
    await victim.kill();
  }
  // Restarted a minute later, as the issue asks (sooner in a run too short for that: before the
  // next fault).
  await new Promise((resolve) =>
    setTimeout(resolve, Math.max(0, killedAtMs + Math.min(60_000, durationMs * 0.3) - Date.now())),
  );
  if (victim && replicas > 1) {
    faults.push({ name: `restart NATS node ${victim.name}`, atMs: Date.now() - startedAt });
    await victim.start();
  }
  // Fault 2: one store instance.
  await at(0.55);
  faults.push({ name: "kill -9 one store", atMs: Date.now() - startedAt });
  await stores[0]?.kill();
  // Fault 3: Postgres.
  await at(0.7);
  faults.push({ name: "restart Postgres", atMs: Date.now() - startedAt });
  postgres.stop();
  await new Promise((resolve) => setTimeout(resolve, 5000));
  postgres.start();
  // Fault 4: the real watcher's dockerd (a private one), its containers started again after it.
  let dockerdRecovery: Promise<DockerdRecovery> | undefined;
  if (watcherHost !== undefined) {
    await at(0.85);
    faults.push({ name: "restart the watcher's dockerd", atMs: Date.now() - startedAt });
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
    }, 120_000).then((storedAtMs) => ({ ...restart, storedAtMs }));
  }
  await at(1);
  publishing = false;
  clearInterval(churner);
  giveUpAtMs = Date.now() + FINAL_WAIT_MS;
  await publisher;

  const finalWaitMs = FINAL_WAIT_MS;
  const drained = await waitFor(async () => ((await countRows(postgres.url)) ?? 0) >= published, finalWaitMs);
  // Events have their own stream and consumer: waited for the same way, and the real watcher's
  // until each event dockerd reported is accounted for.
  await waitFor(async () => {
    const now = await storedEvents(postgres.url, watcherHost?.host);
    const watcherDone =
      watcherHost === undefined || compareWatcherEvents(watcherHost.recorded(), now).lost.length === 0;
    return now.simulated >= eventsPublished && watcherDone;
  }, finalWaitMs);
  clearInterval(lagPoller);
  const stored = (await countRows(postgres.url)) ?? 0;
  const streamInfo = await jsm.streams.info(streamName(subjects, "telemetry"));

  const events = await storedEvents(postgres.url, watcherHost?.host);
  const watcherEvents =
    watcherHost === undefined ? undefined : compareWatcherEvents(watcherHost.recorded(), events);
  const dockerdRecovered = await dockerdRecovery;

  const steady = lags.filter((lag) =>
    faults.every((fault) => Math.abs(lag.tickMs - fault.atMs) > 2 * intervalMs),
  );
  const steadyP99 = percentile(
    steady.map((l) => l.lagMs),
    0.99,
  );
  console.log(`published (acknowledged): ${published}`);
  if (neverAcknowledged > 0) {
    console.log(
      `never acknowledged ${FINAL_WAIT_MS / 1000} s after the run: ${neverAcknowledged} (the bus refused or did not answer them; see the NATS nodes' logs)`,
    );
  }
  console.log(`in the stream: ${streamInfo.state.messages} (more than published = stored twice)`);
  console.log(
    `stored: ${stored}; lost: ${Math.max(0, published - stored)}${drained ? "" : " (store did not catch up in time)"}`,
  );
  console.log(
    `lag per tick, steady state: p50 ${percentile(
      steady.map((l) => l.lagMs),
      0.5,
    )} ms, p99 ${percentile(
      steady.map((l) => l.lagMs),
      0.99,
    )} ms (${steady.length} ticks)`,
  );
  console.log(
    `events of the simulated hosts: published ${eventsPublished}, stored ${events.simulated}, lost ${Math.max(0, eventsPublished - events.simulated)} (stored twice: impossible, event_id is unique)`,
  );
  if (watcherEvents !== undefined) {
    console.log(
      `events of the real watcher: dockerd reported ${watcherEvents.reported}; stored as reported ${watcherEvents.exact}, stored as synthesized (dockerd lost them in its restart) ${watcherEvents.synthesized}, lost ${watcherEvents.lost.length}${watcherEvents.lost.length ? ` (${watcherEvents.lost.slice(0, 5).join(", ")})` : ""}`,
    );
  }
  for (const fault of faults) {
    const near = lags.filter(
      (lag) => lag.tickMs >= fault.atMs - intervalMs && lag.tickMs <= fault.atMs + 2 * intervalMs,
    );
    // Recovered: the first tick published after the fault that is committed as fast as the
    // steady state's p99.
    const recovered = lags
      .filter((lag) => lag.tickMs >= fault.atMs && lag.lagMs <= steadyP99)
      .map((lag) => lag.tickMs + lag.lagMs)
      .sort((a, b) => a - b)[0];
    const recoveredText =
      fault.name.includes("dockerd") && dockerdRecovered !== undefined
        ? describeDockerdRecovery(dockerdRecovered)
        : recovered === undefined
          ? "not within the run"
          : `${((recovered - fault.atMs) / 1000).toFixed(1)} s`;
    console.log(
      `${fault.name} at ${(fault.atMs / 1000).toFixed(0)} s: worst lag of the ticks around it ${near.length ? Math.max(...near.map((l) => l.lagMs)) : "n/a"} ms; time to recover ${recoveredText}`,
    );
  }
  console.log(`ticks never complete: ${pendingTicks.size}`);
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
function compareWatcherEvents(recorded: readonly RecordedEventLike[], stored: StoredEvents) {
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

type RecordedEventLike = ReturnType<WatcherHost["recorded"]>[number];

interface DockerdRecovery {
  stoppedAtMs: number;
  upAgainAtMs: number;
  restartedIds: string[];
  /** When the store had the start event of every container started again. */
  storedAtMs: number | undefined;
}

function describeDockerdRecovery(recovery: DockerdRecovery): string {
  const back = `dockerd itself was back after ${((recovery.upAgainAtMs - recovery.stoppedAtMs) / 1000).toFixed(1)} s`;
  return recovery.storedAtMs === undefined
    ? `the start events of its ${recovery.restartedIds.length} containers were not stored within 120 s (${back})`
    : `${((recovery.storedAtMs - recovery.stoppedAtMs) / 1000).toFixed(1)} s until the store had the start event of each of its ${recovery.restartedIds.length} containers started again (${back})`;
}

/** When `probe` first holds (polled every 500 ms), or undefined after `timeoutMs`. */
async function firstTimeWhen(probe: () => Promise<boolean>, timeoutMs: number): Promise<number | undefined> {
  return (await waitFor(probe, timeoutMs)) ? Date.now() : undefined;
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}
