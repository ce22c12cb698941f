// `pnpm bench soak`: the fault run, in a short bounded form. Simulated hosts publish container
// samples (synthetic readings, published as the collector does: JetStream, one message id per
// sample, retried with the same id until acknowledged) into a 3-node NATS cluster with R3 streams,
// drained by two store processes into a private Postgres. During the run: kill -9 the telemetry
// stream's leader node (restarted later), kill -9 one store, restart Postgres. Prints samples
// published, stored, lost and stored twice, and the end-to-end lag per tick (published → every
// sample of the tick committed) in steady state and the worst around each fault.
//
// Knobs (environment): SOAK_HOSTS (100), SOAK_CONTAINERS (50), SOAK_INTERVAL_MS (10000),
// SOAK_DURATION_MS (150000), SOAK_REPLICAS (3; 1 runs one node, for comparison).
// Not in this short form: events, a real watcher and its dockerd restart, the 1000-host scale.

import { codecs, createSubjects, streamName } from "@crowsnest/shared";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { createPrivatePostgres } from "../../services/store/src/fixtures/private-postgres.ts";
import { statsFixture } from "../support/bus-fixtures.ts";
import { startNatsServers } from "../support/nats-servers.ts";
import { type ServiceProcess, startService } from "../support/service-process.ts";

const numberFrom = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

export async function run(): Promise<void> {
  const hosts = numberFrom("SOAK_HOSTS", 100);
  const containers = numberFrom("SOAK_CONTAINERS", 50);
  const intervalMs = numberFrom("SOAK_INTERVAL_MS", 10_000);
  const durationMs = numberFrom("SOAK_DURATION_MS", 150_000);
  const replicas = numberFrom("SOAK_REPLICAS", 3);
  console.log(
    `${hosts} hosts × ${containers} containers every ${intervalMs} ms (${(hosts * containers * 1000) / intervalMs} samples/s) for ${durationMs / 1000} s, R${replicas} on ${replicas} node(s), two stores`,
  );

  const servers = await startNatsServers({ count: replicas });
  const postgres = await createPrivatePostgres();
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
  // The second store starts once the first has created the schema and the streams.
  await waitFor(async () => (await countRows(postgres.url).catch(() => undefined)) !== undefined, 60_000);
  stores.push(startService("store", storeEnv));
  const nc = await connect({ servers: [...servers.urls], maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const js = jetstream(nc);

  const faults: { name: string; atMs: number; recoveredMs?: number }[] = [];
  const lags: { tickMs: number; lagMs: number }[] = [];
  const pendingTicks = new Map<string, number>();
  let published = 0;
  let publishing = true;
  const startedAt = Date.now();

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
            (async () => {
              for (let attempt = 0; ; attempt++) {
                try {
                  await js.publish(
                    subjects.stats(message.host, "docker", message.container.name),
                    encoded.data,
                    {
                      msgID,
                      timeout: 10_000,
                    },
                  );
                  published += 1;
                  return;
                } catch {
                  await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt)));
                }
              }
            })(),
          );
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

  const at = (fraction: number) =>
    new Promise((resolve) => setTimeout(resolve, startedAt + durationMs * fraction - Date.now()));
  // Fault 1: the telemetry stream's leader node, restarted a while later.
  await at(0.2);
  const jsm = await jetstreamManager(nc, { timeout: 20_000 });
  const leader = (await jsm.streams.info(streamName(subjects, "telemetry"))).cluster?.leader;
  const victim = servers.nodes.find((node) => node.name === leader) ?? servers.nodes[0];
  if (victim && replicas > 1) {
    faults.push({ name: `kill -9 NATS node ${victim.name} (stream leader)`, atMs: Date.now() - startedAt });
    await victim.kill();
  }
  await at(0.45);
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
  await at(1);
  publishing = false;
  await publisher;

  const finalWaitMs = 120_000;
  const drained = await waitFor(async () => ((await countRows(postgres.url)) ?? 0) >= published, finalWaitMs);
  clearInterval(lagPoller);
  const stored = (await countRows(postgres.url)) ?? 0;
  const streamInfo = await jsm.streams.info(streamName(subjects, "telemetry"));

  const steady = lags.filter((lag) =>
    faults.every((fault) => Math.abs(lag.tickMs - fault.atMs) > 2 * intervalMs),
  );
  console.log(`published (acknowledged): ${published}`);
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
  for (const fault of faults) {
    const near = lags.filter(
      (lag) => lag.tickMs >= fault.atMs - intervalMs && lag.tickMs <= fault.atMs + 2 * intervalMs,
    );
    console.log(
      `${fault.name} at ${(fault.atMs / 1000).toFixed(0)} s: worst lag of the ticks around it ${near.length ? Math.max(...near.map((l) => l.lagMs)) : "n/a"} ms`,
    );
  }
  console.log(`ticks never complete: ${pendingTicks.size}`);

  await nc.close();
  for (const store of stores) await store.stop().catch(() => undefined);
  await servers.remove();
  postgres.remove();
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

async function waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}
