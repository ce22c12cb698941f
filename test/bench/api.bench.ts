// The api's two heaviest read routes under load, next to a bare handler running the same SQL:
// 1000 containers × 24 h of 10 s samples (8.64 M raw rows, rolled up hourly), 50 concurrent
// connections, the 24h history (5-minute points) of a random container, and the top consumers
// by CPU over 24 h. Prints req/s, p50 and p99 of each server and the ratios the targets use
// (api p99 ≤ 1.5× bare, api throughput ≥ 70 % of bare). Client and servers share the machine.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { openPostgres } from "@crowsnest/shared/postgres";
import { connect } from "@nats-io/transport-node";
import autocannon from "autocannon";
import pg from "pg";
import { pino } from "pino";
import type { StoreDatabase } from "../../services/store/src/db/database.ts";
import { migrateToLatest } from "../../services/store/src/db/migrations.ts";
import { dayNumber, ensureDayPartition } from "../../services/store/src/db/partitions.ts";
import { RollupJob } from "../../services/store/src/rollup/rollup-job.ts";
import { deleteTestStreams } from "../support/bus-fixtures.ts";
import { startService } from "../support/service-process.ts";

const CONTAINERS = 1000;
const HOURS = 24;
const INTERVAL_S = 10;
const CONNECTIONS = 50;
const DURATION_S = 10;
const TOKEN = "bench-read-token-0123456789";

async function load(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = Date.now();
  await client.query(`
    INSERT INTO containers (host, runtime, external_id, name, state, last_seen)
    SELECT 'bench-host', 'docker', 'bench-' || i, 'bench-' || i, 'running', now()
    FROM generate_series(1, ${CONTAINERS}) AS i`);
  for (let first = 1; first <= CONTAINERS; first += 100) {
    await client.query(`
      INSERT INTO container_stats (container_id, ts, interval_ms, cpu_percent, online_cpus, mem_used, mem_limit,
        net_rx_bytes, net_tx_bytes, net_rx_bytes_per_s, net_tx_bytes_per_s, blk_read_bytes, blk_write_bytes,
        blk_read_bytes_per_s, blk_write_bytes_per_s, pids)
      SELECT c, ts, 10000, (c % 100) + random() * 10, 2, 50000000 + c * 1000, 268435456,
        extract(epoch FROM ts)::bigint * 10, extract(epoch FROM ts)::bigint * 5, 10, 5, 0, 4096, 0, 409.6, 3
      FROM generate_series(${first}, ${first + 99}) AS c,
           generate_series(date_trunc('second', now()) - interval '${HOURS} hours', now(), interval '${INTERVAL_S} seconds') AS ts`);
  }
  await client.query("ANALYZE");
  await client.end();
  console.log(
    `loaded ${CONTAINERS} containers × ${HOURS} h of ${INTERVAL_S} s samples in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

async function measure(url: string, path: (i: number) => string, headers: Record<string, string>) {
  let i = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    headers,
    requests: [
      {
        setupRequest: (request) => ({ ...request, path: path(i++) }),
      },
    ],
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

export async function run(): Promise<void> {
  const adminUrl = process.env.CROWSNEST_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const natsUrl = process.env.CROWSNEST_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
  const name = `crowsnest_bench_api_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const children: { stop(): Promise<unknown> }[] = [];
  const prefix = `bench-api-${Date.now()}`;
  try {
    const store = openPostgres<StoreDatabase>({
      url: databaseUrl,
      poolSize: 4,
      applicationName: "bench",
      onIdleError: () => undefined,
    });
    await migrateToLatest(store.db);
    const today = dayNumber(new Date());
    for (let day = today - 2; day <= today + 1; day++) {
      await ensureDayPartition(store.pool, "container_stats", day);
    }
    await load(databaseUrl);
    const rollupStarted = Date.now();
    await new RollupJob({ db: store.db, logger: pino({ level: "silent" }), rawRetentionDays: 7 }).run();
    console.log(`rolled up in ${((Date.now() - rollupStarted) / 1000).toFixed(1)} s`);
    await store.destroy();

    const api = startService("api", {
      CROWSNEST_DATABASE_URL: databaseUrl,
      CROWSNEST_NATS_URL: natsUrl,
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_API_PORT: "18181",
      CROWSNEST_API_LISTEN_HOST: "127.0.0.1",
      CROWSNEST_API_READ_TOKENS: TOKEN,
      CROWSNEST_LOG_LEVEL: "warn",
    });
    children.push(api);
    const bare = spawn(
      process.execPath,
      [
        "--conditions=crowsnest-source",
        fileURLToPath(new URL("support/bare-api-server.ts", import.meta.url)),
      ],
      {
        env: { ...process.env, BENCH_DATABASE_URL: databaseUrl, BENCH_PORT: "18182" },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    children.push({
      stop: async () => {
        bare.kill("SIGTERM");
        await once(bare, "exit");
      },
    });
    await Promise.all([
      api
        .waitForLog((record) => record.level === "warn" || record.msg === "api listening", 30_000)
        .catch(() => undefined),
      once(bare.stdout ?? bare, "data"),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 2000));

    const auth = { Authorization: `Bearer ${TOKEN}` };
    const randomId = () => 1 + Math.floor(Math.random() * CONTAINERS);
    const rows: Record<string, unknown>[] = [];
    for (const [route, apiPath, barePath] of [
      [
        "history 24h / 5m",
        () => `/api/v1/containers/${randomId()}/stats/history?range=24h`,
        () => `/history/${randomId()}`,
      ],
      ["top cpu 24h", () => "/api/v1/top?metric=cpu&period=24h", () => "/top"],
    ] as const) {
      // Warm both up (plans, JIT), then measure each in turn.
      await measure("http://127.0.0.1:18181", apiPath, auth);
      await measure("http://127.0.0.1:18182", barePath, {});
      const ours = await measure("http://127.0.0.1:18181", apiPath, auth);
      const theirs = await measure("http://127.0.0.1:18182", barePath, {});
      rows.push({
        route,
        server: "crowsnest api",
        "req/s": ours.rps,
        "p50 ms": ours.p50,
        "p99 ms": ours.p99,
        errors: ours.errors,
      });
      rows.push({
        route,
        server: "bare hono + pg",
        "req/s": theirs.rps,
        "p50 ms": theirs.p50,
        "p99 ms": theirs.p99,
        errors: theirs.errors,
      });
      rows.push({
        route,
        server: "api / bare",
        "req/s": `${((ours.rps / theirs.rps) * 100).toFixed(0)} % (target ≥ 70 %)`,
        "p99 ms": `${(ours.p99 / theirs.p99).toFixed(2)}× (target ≤ 1.5×)`,
      });
    }
    console.log(`api routes, ${CONNECTIONS} connections, ${DURATION_S} s each`);
    console.table(rows);
  } finally {
    for (const child of children) await child.stop().catch(() => undefined);
    const nc = await connect({ servers: natsUrl });
    await deleteTestStreams(nc, prefix);
    await nc.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}
