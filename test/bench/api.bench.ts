// The api's heaviest read routes under load, next to a bare handler running the same SQL:
// 1000 containers × 24 h of 10 s samples (8.64 M raw rows, rolled up by minute and by hour), 50
// concurrent connections.
// - 24 h history (5-minute points) of a random container: (a) the raw-row query the api ran
//   before the minute tier, kept as the baseline (on the bare server), (b) the api on the tiers,
//   (c) the bare server running (b)'s SQL. Targets: (b) ≥ 10× (a) in req/s and p99, (b) ≥ 70 %
//   of (c).
// - sparklines: 500 random containers' 1 h in 60 points in one request, against one
//   container's 1 h history (target ≤ 3× its latency), under load and one request at a time;
//   averages to 3 significant digits, as the dashboard asks, averages with every digit, and
//   every aggregate (avg, max, samples).
// - top consumers by CPU over 24 h, api against bare.
// Also times the minute rollup job (target ≤ 200 ms per minute of 1000 containers' data).
// While the routes are measured, samples keep arriving every 10 s and the minute job runs every
// minute, as in production (startLiveIngest). Client and servers share the machine.
import { spawn } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { openPostgres } from "@crowsnest/shared/postgres";
import { connect } from "@nats-io/transport-node";
import autocannon from "autocannon";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { pino } from "pino";
import { minuteMarksSql, rawMinutesSql } from "../../services/api/src/history/minute-points.ts";
import { alignToSteps } from "../../services/api/src/history/range-params.ts";
import {
  CONTAINER_SERIES,
  seriesColumnsSql,
  seriesSql,
} from "../../services/api/src/history/series-query.ts";
import { topSql } from "../../services/api/src/top/top-query.ts";
import type { StoreDatabase } from "../../services/store/src/db/database.ts";
import { migrateToLatest } from "../../services/store/src/db/migrations.ts";
import { dayNumber, ensureDayPartition } from "../../services/store/src/db/partitions.ts";
import { median } from "../../services/store/src/fixtures/bench-database.ts";
import { PeriodicJob } from "../../services/store/src/jobs/periodic-job.ts";
import {
  MINUTE_JOB_PHASE_MS,
  MINUTE_SETTLE_MS,
  RollupJob,
} from "../../services/store/src/rollup/rollup-job.ts";
import { deleteTestStreams } from "../support/bus-fixtures.ts";
import { startService } from "../support/service-process.ts";
import { meterCpu } from "./support/request-cpu.ts";

const CONTAINERS = 1000;
const HOURS = 24;
const INTERVAL_S = 10;
const CONNECTIONS = 50;
const DURATION_S = 10;
const WARM_UP_S = 3;
const SPARKLINES = 500;
const TOKEN = "bench-read-token-0123456789";

/** Every container's samples at each 10 s in [fromMs, toMs), in time order as ingest writes them. */
async function insertSamples(client: pg.Client, fromMs: number, toMs: number): Promise<void> {
  await client.query(
    `INSERT INTO container_stats (container_id, ts, interval_ms, cpu_percent, online_cpus, mem_used, mem_limit,
      net_rx_bytes, net_tx_bytes, net_rx_bytes_per_s, net_tx_bytes_per_s, blk_read_bytes, blk_write_bytes,
      blk_read_bytes_per_s, blk_write_bytes_per_s, pids)
    SELECT c, ts, 10000, (c % 100) + random() * 10, 2, 50000000 + c * 1000, 268435456,
      extract(epoch FROM ts)::bigint * 10, extract(epoch FROM ts)::bigint * 5, 10, 5, 0, 4096, 0, 409.6, 3
    FROM generate_series($1::timestamptz, $2::timestamptz - interval '${INTERVAL_S} seconds',
           interval '${INTERVAL_S} seconds') AS ts,
         generate_series(1, ${CONTAINERS}) AS c
    ORDER BY ts, c`,
    [new Date(fromMs), new Date(toMs)],
  );
}

/** Loads the data set; returns its end (the samples cover the 24 h before it). */
async function load(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = Date.now();
  await client.query(`
    INSERT INTO containers (host, runtime, external_id, name, state, last_seen)
    SELECT 'bench-host', 'docker', 'bench-' || i, 'bench-' || i, 'running', now()
    FROM generate_series(1, ${CONTAINERS}) AS i`);
  // An hour at a time, in time order, as ingest writes them (the BRIN index on ts relies on it).
  const endMs = Math.floor(Date.now() / 1000) * 1000;
  for (let hour = HOURS; hour >= 1; hour--) {
    const fromMs = endMs - hour * 3_600_000;
    await insertSamples(client, fromMs, fromMs + 3_600_000);
  }
  // Summarized BRIN ranges and visibility as autovacuum leaves them in steady state.
  await client.query("VACUUM ANALYZE");
  await client.end();
  console.log(
    `loaded ${CONTAINERS} containers × ${HOURS} h of ${INTERVAL_S} s samples in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return endMs;
}

/**
 * While the routes are measured, what the collectors and the store do in production: every
 * container's sample each 10 s at the wall clock (from the data set's end on, so the samples
 * stay continuous), and the minute job each minute once it settled, as the store runs it. The
 * minutes a sparkline reads from raw samples (the current one, and the one just closed until the
 * job computed it) then hold samples, about 4 500 rows for 500 containers, as they do in
 * production; with the data set ending at its load they were empty, which understated a
 * sparkline request by several milliseconds of Postgres' CPU.
 */
async function startLiveIngest(url: string, fromMs: number): Promise<{ stop(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const store = openPostgres<StoreDatabase>({
    url,
    poolSize: 2,
    applicationName: "bench-minute-job",
    onIdleError: () => undefined,
  });
  const logger = pino({ level: "silent" });
  const minuteJob = new RollupJob({
    db: store.db,
    logger,
    rawRetentionDays: 7,
    granularities: ["minute"],
  });
  let nextMs = fromMs;
  const ingest = new PeriodicJob({
    name: "bench ingest",
    intervalMs: INTERVAL_S * 1000,
    phaseMs: 0,
    logger,
    run: async () => {
      // The samples up to now, the one of the current 10 s included.
      const untilMs = Math.floor(Date.now() / (INTERVAL_S * 1000)) * INTERVAL_S * 1000 + INTERVAL_S * 1000;
      if (untilMs <= nextMs) return;
      await insertSamples(client, nextMs, untilMs);
      nextMs = untilMs;
    },
  });
  // Scheduled as the store schedules it (services/store/src/main.ts).
  const minutes = new PeriodicJob({
    name: "bench minute rollups",
    intervalMs: 60_000,
    phaseMs: MINUTE_JOB_PHASE_MS,
    logger,
    run: async () => void (await minuteJob.run()),
  });
  await ingest.runNow();
  await minuteJob.run();
  ingest.start();
  minutes.start();
  return {
    stop: async () => {
      await ingest.stop();
      await minutes.stop();
      await client.end();
      await store.destroy();
    },
  };
}

/**
 * One request at a time for `durationS`, each timed to the microsecond: autocannon's latencies
 * are whole milliseconds, too coarse for answers of 2 to 8 ms, whose ratio the sparklines'
 * target is.
 */
async function measureOneAtATime(
  url: string,
  path: (i: number) => string,
  headers: Record<string, string>,
  durationS: number,
) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  const started = performance.now();
  try {
    for (let i = 0; performance.now() - started < durationS * 1000; i++) {
      const sent = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        const request = http.get(new URL(path(i), url), { agent, headers }, (response) => {
          response.on("data", (chunk: Buffer) => {
            bytes += chunk.length;
          });
          response.on("end", () => resolve(response.statusCode ?? 0));
          response.on("error", reject);
        });
        request.on("error", reject);
      }).catch(() => 0);
      latencies.push(performance.now() - sent);
      if (status !== 200) errors++;
    }
  } finally {
    agent.destroy();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) =>
    Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(2));
  return {
    rps: Math.round(latencies.length / ((performance.now() - started) / 1000)),
    p50: at(0.5),
    p99: at(0.99),
    errors,
    requests: latencies.length,
    kbPerAnswer: bytes / Math.max(latencies.length, 1) / 1024,
  };
}

async function measure(
  url: string,
  path: (i: number) => string,
  headers: Record<string, string>,
  options: { connections?: number; durationS?: number } = {},
) {
  if (options.connections === 1)
    return measureOneAtATime(url, path, headers, options.durationS ?? DURATION_S);
  let i = 0;
  const result = await autocannon({
    url,
    connections: options.connections ?? CONNECTIONS,
    duration: options.durationS ?? DURATION_S,
    // A slow answer is measured, not dropped as an error (the machine is shared).
    timeout: 60,
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
    requests: result.requests.total,
    kbPerAnswer: result.throughput.total / Math.max(result.requests.total, 1) / 1024,
  };
}

/** Pages a plan touched (its top node's shared hits and reads), heap fetches of index-only scans, time. */
function planFigures(lines: readonly string[]): { buffers: number; heapFetches: number; ms: number } {
  const top = lines.find((line) => line.includes("Buffers: shared")) ?? "";
  const count = (pattern: RegExp) => Number(pattern.exec(top)?.[1] ?? 0);
  let heapFetches = 0;
  for (const line of lines) heapFetches += Number(/Heap Fetches: (\d+)/.exec(line)?.[1] ?? 0);
  const ms = Number(/Execution Time: ([\d.]+) ms/.exec(lines.join("\n"))?.[1] ?? Number.NaN);
  return { buffers: count(/hit=(\d+)/) + count(/read=(\d+)/), heapFetches, ms };
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the statements measured above, on the same data, for the
 * query-plan notes in docs/history.md, and the pages each touched: unlike requests per second,
 * a page count does not depend on what else the machine runs, so it is the figure that shows
 * what the storage layout costs. "Through the heap" reads the same minute rows with one column
 * outside the covering key (a counter), so it visits every row's heap page as every minute read
 * did before migration 0011: the layout's cost, measured in the same run.
 */
async function printPlans(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const compiler = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool() }) });
  try {
    const nowMs = Date.now();
    // Windows on the step grid, as the api widens them (alignToSteps).
    const window = (spanMs: number, stepMs: number) => ({
      ...alignToSteps({ fromMs: nowMs - spanMs, toMs: nowMs, stepMs, granularity: "" }),
      nowMs,
    });
    const day = window(24 * 3_600_000, 5 * 60_000);
    const hour = window(3_600_000, 60_000);
    const ids = Array.from({ length: SPARKLINES }, (_, n) => 1 + n * 2);
    type Compilable = { compile(db: Kysely<unknown>): { sql: string; parameters: readonly unknown[] } };
    const text = (query: string, parameters: unknown[]): Compilable => ({
      compile: () => ({ sql: query, parameters }),
    });
    const minutesOf = (columns: string, id: number) =>
      text(
        `SELECT date_bin('5 minutes', bucket, '2000-01-01') AS t, ${columns}
         FROM container_stats_minute WHERE container_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1`,
        [id, new Date(day.fromMs), new Date(nowMs - 3 * 60_000)],
      );
    const chartColumns =
      "sum(samples), sum(cpu_percent_samples), sum(cpu_percent_sum), max(cpu_percent_max), " +
      "sum(mem_used_samples), sum(mem_used_sum), max(mem_used_max), sum(mem_limit_sum)";
    const statements: [string, Compilable | undefined][] = [
      [
        "history 24h / 5m, raw rows (the baseline)",
        seriesSql(CONTAINER_SERIES, [42], day, { sources: ["raw"] })?.query,
      ],
      ["history 24h / 5m, tiers", seriesSql(CONTAINER_SERIES, [43], day)?.query],
      ["24h of one container's minutes, chart columns (index-only)", minutesOf(chartColumns, 44)],
      [
        "24h of one container's minutes through the heap (as before migration 0011)",
        minutesOf(`${chartColumns}, sum(net_rx_bytes)`, 45),
      ],
      ["history 1h, raw", seriesSql(CONTAINER_SERIES, [46], { ...hour, stepMs: 1 })?.query],
      [
        `${SPARKLINES} sparklines, 1h / 1m, cpu_percent`,
        seriesColumnsSql(CONTAINER_SERIES, ids, hour, { values: ["cpu_percent"] })?.query,
      ],
      [
        `${SPARKLINES} sparklines now: the window's computed minutes (rollup_buckets)`,
        minuteMarksSql(CONTAINER_SERIES, hour.fromMs, hour.toMs),
      ],
      [
        `${SPARKLINES} sparklines now: the last 2 minutes from raw samples`,
        rawMinutesSql(
          CONTAINER_SERIES,
          ids,
          ["cpu_percent"],
          [hour.toMs - 2 * 60_000, hour.toMs - 60_000],
          nowMs,
        ),
      ],
      ["top cpu 24h", topSql({ metric: "cpu", period: "24h", limit: 10, labels: [], nowMs })],
    ];
    const figures: Record<string, unknown>[] = [];
    for (const [what, statement] of statements) {
      if (!statement) continue;
      const compiled = statement.compile(compiler);
      const result = await client.query<{ "QUERY PLAN": string }>(
        `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${compiled.sql}`,
        [...compiled.parameters],
      );
      const lines = result.rows.map((row) => row["QUERY PLAN"]);
      console.log(`\n-- ${what}\n${lines.join("\n")}`);
      const { buffers, heapFetches, ms } = planFigures(lines);
      figures.push({ statement: what, "pages (buffers)": buffers, "heap fetches": heapFetches, ms: ms });
    }
    console.log("\npages touched per statement (EXPLAIN ANALYZE BUFFERS; independent of the machine's load)");
    console.table(figures);
  } finally {
    await client.end();
    await compiler.destroy();
  }
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
    const endMs = await load(databaseUrl);
    const logger = pino({ level: "silent" });
    let started = Date.now();
    await new RollupJob({ db: store.db, logger, rawRetentionDays: 7 }).run();
    console.log(`rolled up hourly and daily in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // The minute job on a clock of its own: the catch-up stops 5 minutes before the data's end,
    // then each round moves the clock a minute on and times one run, which computes the minute
    // that just closed (1000 containers' rows inserted) and vacuums its day, as in steady state.
    const STEADY_ROUNDS = 5;
    let clockMs = endMs - STEADY_ROUNDS * 60_000 + MINUTE_SETTLE_MS;
    const minuteJob = new RollupJob({
      db: store.db,
      logger,
      rawRetentionDays: 7,
      granularities: ["minute"],
      now: () => new Date(clockMs),
    });
    started = Date.now();
    const minutes = await minuteJob.run();
    const catchUpMs = Date.now() - started;
    const minutesOfData = HOURS * 60 - STEADY_ROUNDS;
    const steady: number[] = [];
    for (let round = 0; round < STEADY_ROUNDS; round++) {
      clockMs += 60_000;
      const minuteStarted = performance.now();
      const run = await minuteJob.run();
      steady.push(Math.round(performance.now() - minuteStarted));
      if (run.computed < 1) console.log(`steady round ${round}: nothing computed`);
    }
    console.log(
      `minute rollups: catch-up of ${minutes.computed} minutes (containers and hosts; ${minutesOfData} with data) in ` +
        `${(catchUpMs / 1000).toFixed(1)} s = ${(catchUpMs / minutesOfData).toFixed(0)} ms per minute of data; ` +
        `one just-closed minute of ${CONTAINERS} containers: median ${median(steady)} ms (${steady.join(", ")}) ` +
        "(target ≤ 200 ms; the VACUUM of its day partition included)",
    );
    await store.pool.query("VACUUM ANALYZE");
    await store.destroy();

    const apiUrl = "http://127.0.0.1:18181";
    const api = startService("api", {
      CROWSNEST_DATABASE_URL: databaseUrl,
      CROWSNEST_NATS_URL: natsUrl,
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_API_PORT: "18181",
      CROWSNEST_API_LISTEN_HOST: "127.0.0.1",
      CROWSNEST_API_READ_TOKENS: TOKEN,
      CROWSNEST_LOG_LEVEL: "warn",
      // BENCH_API_CPU_PROF=<dir>: the api writes a V8 CPU profile there when it stops.
      ...(process.env.BENCH_API_CPU_PROF
        ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_API_CPU_PROF}` }
        : {}),
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
    children.push(await startLiveIngest(databaseUrl, endMs));
    await new Promise((resolve) => setTimeout(resolve, 2000));

    const auth = { Authorization: `Bearer ${TOKEN}` };
    const bareUrl = "http://127.0.0.1:18182";
    const randomId = () => 1 + Math.floor(Math.random() * CONTAINERS);
    // A server still works off the requests it received when a run ended (50 waiting on a
    // pool of 10): each run starts once Postgres is idle again, so none pays for the one before.
    const idle = async () => {
      for (let waited = 0; waited < 120; waited++) {
        const active = await admin.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'active'",
          [name],
        );
        if (active.rows[0]?.n === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    };
    // Each run also counts the CPU the server and its Postgres backends spent per request: the
    // machine is shared, so req/s says what CPU a run got, CPU per request what a request costs.
    const warmAndMeasure = async (
      url: string,
      path: () => string,
      headers: Record<string, string>,
      options: { connections?: number } = {},
    ) => {
      const serverPid = url === apiUrl ? api.pid : (bare.pid ?? 0);
      await idle();
      await measure(url, path, headers, { ...options, durationS: WARM_UP_S });
      await idle();
      const stopMeter = meterCpu(admin, name, serverPid);
      const measured = await measure(url, path, headers, options);
      const cpu = await stopMeter();
      const per = (ms: number) => ms / Math.max(measured.requests, 1);
      return { ...measured, serverCpuMs: per(cpu.serverMs), postgresCpuMs: per(cpu.postgresMs) };
    };
    type Measured = Awaited<ReturnType<typeof warmAndMeasure>>;
    const cpuPerRequest = (m: Measured) => m.serverCpuMs + m.postgresCpuMs;
    const row = (route: string, server: string, m: Measured) => ({
      route,
      server,
      "req/s": m.rps,
      "p50 ms": m.p50,
      "p99 ms": m.p99,
      errors: m.errors,
      "server CPU ms/req": m.serverCpuMs.toFixed(1),
      "Postgres CPU ms/req": m.postgresCpuMs.toFixed(1),
      "KB/answer": m.kbPerAnswer.toFixed(0),
    });
    const rows: Record<string, unknown>[] = [];

    const history = "history 24h / 5m";
    const baseline = await warmAndMeasure(bareUrl, () => `/history-raw/${randomId()}`, {});
    const tiers = await warmAndMeasure(
      apiUrl,
      () => `/api/v1/containers/${randomId()}/stats/history?range=24h`,
      auth,
    );
    const bareTiers = await warmAndMeasure(bareUrl, () => `/history/${randomId()}`, {});
    rows.push(row(history, "(a) raw rows, bare (baseline)", baseline));
    rows.push(row(history, "(b) api on the tiers", tiers));
    rows.push(row(history, "(c) bare hono + pg, (b)'s SQL", bareTiers));
    rows.push({
      route: history,
      server: "(b) / (a)",
      "req/s": `${(tiers.rps / Math.max(baseline.rps, 1)).toFixed(1)}× (target ≥ 10×)`,
      "p99 ms": `${(baseline.p99 / Math.max(tiers.p99, 1)).toFixed(1)}× lower (target ≥ 10×)`,
      "server CPU ms/req": `CPU per request (server + Postgres) ${(cpuPerRequest(baseline) / Math.max(cpuPerRequest(tiers), 0.1)).toFixed(1)}× less`,
    });
    rows.push({
      route: history,
      server: "(b) / (c)",
      "req/s": `${((tiers.rps / Math.max(bareTiers.rps, 1)) * 100).toFixed(0)} % (target ≥ 70 %)`,
      "p99 ms": `${(tiers.p99 / Math.max(bareTiers.p99, 1)).toFixed(2)}×`,
    });

    const sparklineIds = () => {
      const ids = new Set<number>();
      while (ids.size < SPARKLINES) ids.add(randomId());
      return [...ids].join(",");
    };
    // As the dashboard's overview asks (the average only, all a sparkline draws, to 3 significant
    // digits), the averages with every digit, and every aggregate (avg, max, samples: three times
    // the numbers).
    const sparklinePath = (parameters: string) => () =>
      `/api/v1/stats/series?ids=${sparklineIds()}&metrics=cpu_percent&range=1h&points=60&${parameters}`;
    const onePath = () => `/api/v1/containers/${randomId()}/stats/history?range=1h`;
    for (const connections of [CONNECTIONS, 1]) {
      const route = `1h: ${SPARKLINES} sparklines vs one history, ${connections} connection${connections > 1 ? "s" : ""}`;
      const dashboard = await warmAndMeasure(apiUrl, sparklinePath("aggregates=avg&digits=3"), auth, {
        connections,
      });
      const averages = await warmAndMeasure(apiUrl, sparklinePath("aggregates=avg"), auth, { connections });
      const everything = await warmAndMeasure(apiUrl, sparklinePath("aggregates=avg,max,samples"), auth, {
        connections,
      });
      const one = await warmAndMeasure(apiUrl, onePath, auth, { connections });
      rows.push(
        row(route, `${SPARKLINES} containers × 60 points, avg, 3 digits (as the dashboard asks)`, dashboard),
      );
      rows.push(row(route, `${SPARKLINES} containers × 60 points, avg, every digit`, averages));
      rows.push(row(route, `${SPARKLINES} containers × 60 points, avg, max, samples`, everything));
      rows.push(row(route, "one container's 1h history (raw, 360 rows)", one));
      for (const [what, many] of [
        ["avg, 3 digits", dashboard],
        ["avg", averages],
        ["avg, max, samples", everything],
      ] as const) {
        rows.push({
          route,
          server: `sparklines (${what}) / one`,
          "p50 ms": `${(many.p50 / Math.max(one.p50, 0.01)).toFixed(1)}× (target ≤ 3×)`,
          "p99 ms": `${(many.p99 / Math.max(one.p99, 0.01)).toFixed(1)}×`,
          "server CPU ms/req": `CPU per request (server + Postgres) ${(cpuPerRequest(many) / Math.max(cpuPerRequest(one), 0.1)).toFixed(1)}×`,
        });
      }
    }

    const top = "top cpu 24h";
    const ours = await warmAndMeasure(apiUrl, () => "/api/v1/top?metric=cpu&period=24h", auth);
    const theirs = await warmAndMeasure(bareUrl, () => "/top", {});
    rows.push(row(top, "crowsnest api", ours));
    rows.push(row(top, "bare hono + pg", theirs));
    rows.push({
      route: top,
      server: "api / bare",
      "req/s": `${((ours.rps / Math.max(theirs.rps, 1)) * 100).toFixed(0)} % (target ≥ 70 %)`,
      "p99 ms": `${(ours.p99 / Math.max(theirs.p99, 1)).toFixed(2)}× (target ≤ 1.5×)`,
    });
    console.log(
      `api routes, ${CONNECTIONS} connections unless said, ${DURATION_S} s each after ${WARM_UP_S} s warm-up`,
    );
    console.table(rows);
    for (const record of api.logs.filter((entry) => Number(entry.level) >= 40))
      console.log(JSON.stringify(record));
    await printPlans(databaseUrl);
  } finally {
    for (const child of children) await child.stop().catch(() => undefined);
    const nc = await connect({ servers: natsUrl });
    await deleteTestStreams(nc, prefix);
    await nc.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}
