// Store ingest, side by side on the same Postgres and NATS, from one backlog of samples in the
// telemetry stream:
//   (a) end to end: the real store process drains the backlog, samples published → committed;
//   (b) a bare consumer that only fetches and acks the same messages;
//   (c) a bare COPY of the same rows into the same table (rows already decoded, no bus).
// Also the two set-based INSERT forms the store could have used, for the record of the choice.
// Figures only; nothing is asserted. Needs CROWSNEST_TEST_DATABASE_URL / CROWSNEST_TEST_NATS_URL
// (or Postgres and NATS on localhost).
import { readdirSync, readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  codecs,
  createLogger,
  createSubjects,
  DEFAULT_STREAM_RETENTION,
  ensureStreams,
  type StatsMessage,
  streamDefinitions,
  streamName,
} from "@crowsnest/shared";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { benchDatabase, median } from "../../services/store/src/fixtures/bench-database.ts";
import { spawnStore } from "../../services/store/src/fixtures/store-process.ts";

const SAMPLES = Number(process.env.BENCH_STORE_SAMPLES ?? 300_000);
const CONTAINERS = 1000;
const ROUNDS = Number(process.env.BENCH_STORE_ROUNDS ?? 3);
const natsUrl = process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
/** A directory: the measured store process writes a V8 CPU profile of each thread there (`node --cpu-prof`). */
const CPU_PROFILE_DIR = process.env.BENCH_STORE_CPU_PROFILE_DIR;
/** Node options for the measured store process, e.g. `--max-semi-space-size=16`, to compare settings. */
const STORE_NODE_OPTIONS = [
  process.env.BENCH_STORE_NODE_OPTIONS ?? "",
  CPU_PROFILE_DIR ? `--cpu-prof --cpu-prof-dir=${CPU_PROFILE_DIR}` : "",
]
  .join(" ")
  .trim();
const BASE_MS = Math.floor(Date.now() / 1000) * 1000 - (SAMPLES / CONTAINERS) * 10_000;

function sampleAt(n: number): StatsMessage {
  const container = n % CONTAINERS;
  const step = Math.floor(n / CONTAINERS);
  return {
    v: 1,
    host: "bench-host",
    runtime: "docker",
    container: { external_id: container.toString(16).padStart(64, "0"), name: `bench-${container}` },
    // The last minutes before the run, as a live collector's samples would be.
    ts: new Date(BASE_MS + step * 10_000).toISOString(),
    interval_ms: 10_000,
    cpu_percent: (n % 997) / 10,
    online_cpus: 2,
    cpu_limit_cores: null,
    mem_used: 50_000_000 + n,
    mem_limit: 268_435_456,
    net_rx_bytes: step * 1500,
    net_tx_bytes: step * 700,
    net_rx_bytes_per_s: 150,
    net_tx_bytes_per_s: 70,
    blk_read_bytes: step * 4096,
    blk_write_bytes: 0,
    blk_read_bytes_per_s: 409.6,
    blk_write_bytes_per_s: 0,
    pids: 3,
  };
}

const rate = (count: number, ms: number) => Math.round((count / ms) * 1000);

/**
 * CPU time (user + system, every thread) a process has used, in ms, from /proc (Linux). With
 * other work on the machine, wall-clock rates swing with its load; CPU per sample does not.
 */
function processCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

function statCpuMs(path: string): number {
  const fields = readFileSync(path, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (USER_HZ, 100 on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * CPU ms of a process's threads by thread name: Node's `MainThread`, the decoding worker's
 * `WorkerThread`, V8's helpers (`V8Worker`: parallel garbage collection, compilers), libuv's pool.
 */
function threadCpuMs(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      byName.set(name, (byName.get(name) ?? 0) + statCpuMs(`/proc/${pid}/task/${tid}/stat`));
    } catch {
      // The thread ended between the listing and the read: its time is in no one's total.
    }
  }
  return byName;
}

/** Busy and total CPU ms of the whole machine since boot, from /proc/stat (every core). */
function machineCpuMs(): { busy: number; total: number } {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  // idle and iowait are fields 4 and 5 of the cpu line (proc(5)), in USER_HZ ticks.
  const busy = total - (fields[3] ?? 0) - (fields[4] ?? 0);
  return { busy: busy * 10, total: total * 10 };
}

/**
 * CPU ms used so far by the processes the bus and the database run as: nats-server, and every
 * Postgres process (the backends doing the COPY, the WAL writer, the checkpointer).
 */
function serverCpuMs(): { nats: number; postgres: number } {
  const totals = { nats: 0, postgres: 0 };
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    try {
      const name = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      if (name === "nats-server") totals.nats += processCpuMs(Number(pid));
      else if (name === "postgres") totals.postgres += processCpuMs(Number(pid));
    } catch {
      // Ended between the listing and the read: a short-lived process, its time is lost.
    }
  }
  return totals;
}

interface MachineReading {
  machine: { busy: number; total: number };
  servers: { nats: number; postgres: number };
}

const readMachine = (): MachineReading => ({ machine: machineCpuMs(), servers: serverCpuMs() });

/** Machine-wide figures between two readings: busy share of all cores, and CPU µs per sample by who spent it. */
function machineUse(before: MachineReading, after: MachineReading) {
  const busy = after.machine.busy - before.machine.busy;
  const total = after.machine.total - before.machine.total;
  return {
    busyPercent: total > 0 ? Math.round((busy / total) * 100) : 0,
    machine: cpuPerSample(busy),
    nats: cpuPerSample(after.servers.nats - before.servers.nats),
    postgres: cpuPerSample(after.servers.postgres - before.servers.postgres),
  };
}

/** Appends each thread's CPU µs per sample between two readings of threadCpuMs. */
function addThreadCpu(into: Map<string, number[]>, before: Map<string, number>, after: Map<string, number>) {
  for (const [name, ms] of after) {
    const values = into.get(name) ?? [];
    values.push(cpuPerSample(ms - (before.get(name) ?? 0)));
    into.set(name, values);
  }
}
const cpuPerSample = (cpuMs: number) => Math.round(((cpuMs * 1000) / SAMPLES) * 10) / 10;

export async function run(): Promise<void> {
  const prefix = `bench-${Date.now().toString(36)}`;
  const subjects = createSubjects(prefix);
  const logger = createLogger({ service: "store", level: "silent" });
  const nc = await connect({ servers: natsUrl, name: "crowsnest-bench" });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const telemetry = streamName(subjects, "telemetry");
  const results: Record<string, number[]> = { a: [], b: [], c: [], unnest: [], multirow: [] };
  /** CPU µs per sample of the store process (a) and of the bare consumer's process (b). */
  const cpu: Record<"a" | "b", number[]> = { a: [], b: [] };
  /** CPU µs per sample of (a) and (b) by thread name. */
  const cpuByThread = { a: new Map<string, number[]>(), b: new Map<string, number[]>() };
  const startup: number[] = [];
  /** Machine-wide CPU during (a) and (b). */
  const machine = { a: [] as ReturnType<typeof machineUse>[], b: [] as ReturnType<typeof machineUse>[] };
  try {
    await ensureStreams(jsm, streamDefinitions(subjects, DEFAULT_STREAM_RETENTION), logger);
    const publishStarted = Date.now();
    for (let start = 0; start < SAMPLES; start += 2000) {
      const pending: Promise<unknown>[] = [];
      for (let n = start; n < Math.min(start + 2000, SAMPLES); n++) {
        const message = sampleAt(n);
        const encoded = codecs.stats.encode(message);
        if (!encoded.ok) throw new Error(encoded.detail);
        pending.push(
          js.publish(subjects.stats(message.host, message.runtime, message.container.name), encoded.data),
        );
      }
      await Promise.all(pending);
    }
    console.log(
      `backlog: ${SAMPLES} samples of ${CONTAINERS} containers published in ${Date.now() - publishStarted} ms`,
    );

    for (let round = 0; round < ROUNDS; round++) {
      // (b) bare consumer: fetch and ack, nothing else.
      const durable = `bench-bare-${round}`;
      await jsm.consumers.add(telemetry, {
        durable_name: durable,
        filter_subject: subjects.all("stats"),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: 20_000,
      });
      const consumer = await js.consumers.get(telemetry, durable);
      const bareStarted = Date.now();
      const bareCpuStarted = process.cpuUsage();
      const bareThreadCpuStarted = threadCpuMs(process.pid);
      const bareMachineStarted = readMachine();
      const messages = await consumer.consume({ max_messages: 2000 });
      let seen = 0;
      for await (const msg of messages) {
        msg.ack();
        if (++seen === SAMPLES) break;
      }
      await messages.close();
      results.b?.push(rate(SAMPLES, Date.now() - bareStarted));
      machine.b.push(machineUse(bareMachineStarted, readMachine()));
      const bareCpu = process.cpuUsage(bareCpuStarted);
      cpu.b.push(cpuPerSample((bareCpu.user + bareCpu.system) / 1000));
      addThreadCpu(cpuByThread.b, bareThreadCpuStarted, threadCpuMs(process.pid));
      await jsm.consumers.delete(telemetry, durable);

      // (a) the real store process, from "store started" until the last sample is committed.
      const database = await benchDatabase(`ingest_${round}`);
      try {
        await jsm.consumers.delete(telemetry, "store-stats").catch(() => undefined);
        // A first start on an empty bus does what every start does once (migrations, the rollup
        // catch-up over 7 days of empty buckets, the retention pass), so the measured start
        // finds nothing left but the backlog, as a store restarted after a short stop would.
        const warmPrefix = `${prefix}-warm`;
        const warm = spawnStore({
          CROWSNEST_DATABASE_URL: database.url,
          CROWSNEST_NATS_URL: natsUrl,
          CROWSNEST_SUBJECT_PREFIX: warmPrefix,
          CROWSNEST_LOG_LEVEL: "info",
        });
        await warm.waitForLog(
          (record) => record.msg === "computed rollups" && record.series === "host_daily",
          60_000,
        );
        await warm.stop();
        for (const role of ["telemetry", "events", "alerts", "deadletter"] as const) {
          await jsm.streams.delete(streamName(createSubjects(warmPrefix), role)).catch(() => undefined);
        }
        const store = spawnStore({
          CROWSNEST_DATABASE_URL: database.url,
          CROWSNEST_NATS_URL: natsUrl,
          CROWSNEST_SUBJECT_PREFIX: prefix,
          CROWSNEST_LOG_LEVEL: "info",
          CROWSNEST_ROLLUP_INTERVAL_MS: "3600000",
          ...(STORE_NODE_OPTIONS ? { NODE_OPTIONS: STORE_NODE_OPTIONS } : {}),
        });
        try {
          const started = await store.waitForLog((record) => record.msg === "store started", 60_000);
          const startedAt = Date.parse(String(started.time));
          const storeCpuStarted = store.pid === undefined ? undefined : processCpuMs(store.pid);
          const threadCpuStarted = store.pid === undefined ? undefined : threadCpuMs(store.pid);
          const machineStarted = readMachine();
          // Acks follow commits, so "nothing pending, nothing unacknowledged" means all committed;
          // asking NATS spares Postgres a count(*) every few milliseconds while it ingests.
          // Each consumer info costs nats-server a count of the filtered consumer's pending
          // messages over the stream, CPU taken from the store it measures: once acks flow, the
          // next question waits for about half the time the remaining messages should take
          // (at least 10 ms), so it asks a dozen times instead of hundreds.
          let firstAckAt: number | undefined;
          for (;;) {
            const info = await jsm.consumers.info(telemetry, "store-stats");
            const now = Date.now();
            if (firstAckAt === undefined && info.ack_floor.stream_seq > 0) firstAckAt = now;
            if (info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq >= SAMPLES)
              break;
            const acked = info.ack_floor.stream_seq;
            const remainingMs =
              firstAckAt === undefined || acked === 0 || now === firstAckAt
                ? 0
                : ((SAMPLES - acked) / acked) * (now - startedAt);
            await new Promise((resolve) =>
              setTimeout(resolve, Math.min(1000, Math.max(10, remainingMs / 2))),
            );
          }
          startup.push((firstAckAt ?? Date.now()) - startedAt);
          results.a?.push(rate(SAMPLES, Date.now() - startedAt));
          machine.a.push(machineUse(machineStarted, readMachine()));
          if (store.pid !== undefined && storeCpuStarted !== undefined) {
            cpu.a.push(cpuPerSample(processCpuMs(store.pid) - storeCpuStarted));
          }
          if (store.pid !== undefined && threadCpuStarted !== undefined) {
            addThreadCpu(cpuByThread.a, threadCpuStarted, threadCpuMs(store.pid));
          }
          const check = new pg.Client({ connectionString: database.url });
          await check.connect();
          const { rows } = await check.query("SELECT count(*)::int AS n FROM container_stats");
          await check.end();
          if (rows[0].n !== SAMPLES)
            throw new Error(`store committed ${rows[0].n} rows, expected ${SAMPLES}`);
        } finally {
          await store.stop();
        }

        // (c) bare COPY of the same rows into the same (emptied) table, and the INSERT forms.
        const client = new pg.Client({ connectionString: database.url });
        await client.connect();
        try {
          const samples = Array.from({ length: SAMPLES }, (_, n) => sampleAt(n));
          const ids = await client.query<{ id: string; external_id: string }>(
            "SELECT id, external_id FROM containers",
          );
          const idOf = new Map(ids.rows.map((row) => [row.external_id, Number(row.id)]));
          const fields = Object.keys(samples[0] ?? {}).filter(
            (key) => !["v", "host", "runtime", "container"].includes(key),
          ) as (keyof StatsMessage)[];
          const columns = ["container_id", ...fields];
          const timeCopy = async () => {
            await client.query("TRUNCATE container_stats");
            const started = Date.now();
            for (let start = 0; start < SAMPLES; start += 5000) {
              let text = "";
              for (const sample of samples.slice(start, start + 5000)) {
                text += `${idOf.get(sample.container.external_id)}`;
                for (const field of fields) text += sample[field] === null ? "\t\\N" : `\t${sample[field]}`;
                text += "\n";
              }
              await pipeline(
                Readable.from([text]),
                client.query(copyFrom(`COPY container_stats (${columns.join(", ")}) FROM STDIN`)),
              );
            }
            return rate(SAMPLES, Date.now() - started);
          };
          const timeInsert = async (form: "unnest" | "multirow") => {
            await client.query("TRUNCATE container_stats");
            const started = Date.now();
            for (let start = 0; start < SAMPLES; start += 1000) {
              const chunk = samples.slice(start, start + 1000);
              const rows = chunk.map((sample) => [
                idOf.get(sample.container.external_id),
                ...fields.map((f) => sample[f]),
              ]);
              if (form === "unnest") {
                const types = await columnTypes(client, columns);
                await client.query(
                  `INSERT INTO container_stats (${columns.join(", ")}) SELECT * FROM unnest(${columns
                    .map((column, index) => `$${index + 1}::${types[column]}[]`)
                    .join(", ")}) ON CONFLICT DO NOTHING`,
                  columns.map((_, index) => rows.map((row) => row[index])),
                );
              } else {
                const placeholders = rows.map(
                  (_, r) => `(${columns.map((_, c) => `$${r * columns.length + c + 1}`).join(", ")})`,
                );
                await client.query(
                  `INSERT INTO container_stats (${columns.join(", ")}) VALUES ${placeholders.join(", ")} ON CONFLICT DO NOTHING`,
                  rows.flat(),
                );
              }
            }
            return rate(SAMPLES, Date.now() - started);
          };
          results.c?.push(await timeCopy());
          results.unnest?.push(await timeInsert("unnest"));
          results.multirow?.push(await timeInsert("multirow"));
        } finally {
          await client.end();
        }
      } finally {
        await database.drop();
      }
    }
  } finally {
    for (const role of ["telemetry", "events", "alerts", "deadletter"] as const) {
      await jsm.streams.delete(streamName(subjects, role)).catch(() => undefined);
    }
    await nc.close();
  }
  const a = median(results.a ?? []);
  const b = median(results.b ?? []);
  console.log(`store ingest, ${SAMPLES} samples, ${ROUNDS} rounds (median; all runs in brackets)`);
  console.table([
    {
      path: "(a) end to end: one store process, published → committed",
      "samples/s": a,
      runs: `${results.a}`,
    },
    { path: "(b) bare consumer: fetch + ack only", "samples/s": b, runs: `${results.b}` },
    {
      path: "(c) bare COPY of the same rows (5000 per COPY)",
      "samples/s": median(results.c ?? []),
      runs: `${results.c}`,
    },
    {
      path: "    INSERT … SELECT unnest, 1000 rows, ON CONFLICT",
      "samples/s": median(results.unnest ?? []),
      runs: `${results.unnest}`,
    },
    {
      path: "    multi-row INSERT VALUES, 1000 rows, ON CONFLICT",
      "samples/s": median(results.multirow ?? []),
      runs: `${results.multirow}`,
    },
  ]);
  console.log(`(a) / (b) = ${b > 0 ? Math.round((a / b) * 100) : 0} %`);
  const ratios = (results.a ?? []).map((value, round) => {
    const bare = results.b?.[round] ?? 0;
    return bare > 0 ? Math.round((value / bare) * 100) : 0;
  });
  console.log(`(a) / (b) of each round (the same load): ${ratios.join(", ")} %`);
  console.log(
    `CPU per sample (user + system, all threads; the process only, not NATS or Postgres): (a) store ${median(cpu.a)} µs (runs ${cpu.a.join(", ")}), (b) bare consumer ${median(cpu.b)} µs (runs ${cpu.b.join(", ")})`,
  );
  for (const path of ["a", "b"] as const) {
    console.log(
      `(${path}) CPU per sample by thread: ${[...cpuByThread[path]]
        .filter(([, values]) => values.some((value) => value > 0))
        .map(([name, values]) => `${name} ${median(values)} µs (runs ${values.join(", ")})`)
        .join("; ")}`,
    );
  }
  for (const path of ["a", "b"] as const) {
    const figures = machine[path];
    const of = (key: keyof ReturnType<typeof machineUse>) => figures.map((figure) => figure[key]);
    console.log(
      `(${path}) the machine: both cores ${median(of("busyPercent"))} % busy (runs ${of("busyPercent").join(", ")}); CPU µs per sample: all processes ${median(of("machine"))} (runs ${of("machine").join(", ")}), nats-server ${median(of("nats"))} (runs ${of("nats").join(", ")}), Postgres ${median(of("postgres"))} (runs ${of("postgres").join(", ")})`,
    );
  }
  console.log(
    `(a) "store started" → first batch acknowledged (included above): ${median(startup)} ms (runs ${startup})`,
  );
}

const typeCache = new Map<string, Record<string, string>>();
async function columnTypes(client: pg.Client, columns: string[]): Promise<Record<string, string>> {
  const cached = typeCache.get("container_stats");
  if (cached) return cached;
  const { rows } = await client.query<{ column_name: string; data_type: string }>(
    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'container_stats' AND column_name = ANY($1)",
    [columns],
  );
  const types = Object.fromEntries(rows.map((row) => [row.column_name, row.data_type]));
  typeCache.set("container_stats", types);
  return types;
}
