// Writes container samples, one statement (so one transaction) per batch. The primary key
// (container_id, ts) is the sample's natural key, so a sample is stored once however often it
// is delivered.
//
// Fast path: COPY (measured 2-3x cheaper than a multi-row or unnest INSERT, see
// test/bench/store-ingest.bench.ts). COPY cannot skip conflicting rows, so when a batch holds a
// sample that is already stored (a redelivery after a crash), the COPY fails as a whole and the
// batch is written with an unnest INSERT … ON CONFLICT DO NOTHING; the next batches use it
// directly for a while, since redeliveries come in runs.
//
// Samples come from StatsDecoder with their container id and COPY line ready (built on its
// worker thread), which are sent as they are; a sample of a container the decoder did not know
// yet, and the INSERT fallback, take the whole message.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { StatsMessage } from "@crowsnest/shared";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { DayPartitionCache, isMissingPartitionError } from "../db/partitions.ts";
import { markLateBuckets } from "../rollup/rollup-marks.ts";
import type { ContainerDirectory } from "./container-directory.ts";
import { identityKey } from "./container-identity.ts";
import { COPY_COLUMNS, SAMPLE_FIELDS } from "./stats-columns.ts";
import { type DecodedSample, decodedMessage } from "./stats-decoder.ts";
import { copyLine } from "./stats-decoding.ts";

const SQL_TYPES: Record<(typeof COPY_COLUMNS)[number], string> = {
  container_id: "bigint",
  ts: "timestamptz",
  interval_ms: "integer",
  cpu_percent: "double precision",
  online_cpus: "smallint",
  cpu_limit_cores: "double precision",
  mem_used: "bigint",
  mem_limit: "bigint",
  net_rx_bytes: "bigint",
  net_tx_bytes: "bigint",
  net_rx_bytes_per_s: "double precision",
  net_tx_bytes_per_s: "double precision",
  blk_read_bytes: "bigint",
  blk_write_bytes: "bigint",
  blk_read_bytes_per_s: "double precision",
  blk_write_bytes_per_s: "double precision",
  pids: "integer",
};

const COPY_SQL = `COPY container_stats (${COPY_COLUMNS.join(", ")}) FROM STDIN`;
const INSERT_SQL = `INSERT INTO container_stats (${COPY_COLUMNS.join(", ")})
  SELECT * FROM unnest(${COPY_COLUMNS.map((column, index) => `$${index + 1}::${SQL_TYPES[column]}[]`).join(", ")})
  ON CONFLICT (container_id, ts) DO NOTHING`;

/** Batches written with INSERT after a COPY met an already-stored sample. */
const INSERT_BATCHES_AFTER_CONFLICT = 20;

/** The subset of pg's Pool this needs. */
export interface ConnectionPool {
  connect(): Promise<pg.PoolClient>;
  query: pg.Pool["query"];
}

/** A sample as the decoder prepared it, or a whole message (tests, and anything not decoded by StatsDecoder). */
export type StatsSample = DecodedSample | StatsMessage;

function isDecoded(sample: StatsSample): sample is DecodedSample {
  return "copyStart" in sample;
}

function messageOf(sample: StatsSample): StatsMessage {
  return isDecoded(sample) ? decodedMessage(sample) : sample;
}

export class StatsWriter {
  readonly #pool: ConnectionPool;
  readonly #directory: ContainerDirectory;
  readonly #onContainerIds: ((entries: [string, number][]) => void) | undefined;
  readonly #partitions = new DayPartitionCache("container_stats");
  #insertBatchesLeft = 0;

  constructor(options: {
    pool: ConnectionPool;
    directory: ContainerDirectory;
    /** Told the container ids of samples whose decoder did not know them: [identityKey, id]. */
    onContainerIds?: (entries: [string, number][]) => void;
  }) {
    this.#pool = options.pool;
    this.#directory = options.directory;
    this.#onContainerIds = options.onContainerIds;
  }

  /**
   * Marks the closed buckets the samples landed in for recomputation, and those of the samples
   * stored right after them: a pair of samples moves its bytes in the bucket of its later
   * sample, so a sample stored after its successor (redelivered out of order) changes what the
   * successor's bucket moved too. Run after write() and before the samples are acked (a crash
   * in between redelivers them, and this runs then), one batch at a time: concurrent batches
   * would otherwise queue on the same rollup_buckets rows.
   */
  async markLateBuckets(
    samples: readonly { ts: string }[],
    containerIds: readonly number[],
    nowMs: number = Date.now(),
  ): Promise<void> {
    const timestamps = samples.map((sample) => sample.ts);
    // RFC 3339 UTC timestamps sort by time: a sample before the open minute is late (every
    // rollup bucket that can be computed already has closed minutes only).
    const openMinute = new Date(nowMs).toISOString().slice(0, 16);
    const late = samples.flatMap((sample, index) => (sample.ts.slice(0, 16) < openMinute ? [index] : []));
    if (late.length > 0) {
      const successors = await this.#pool.query<{ ts: Date }>(
        `SELECT DISTINCT next.ts FROM unnest($1::bigint[], $2::timestamptz[]) AS late(container_id, ts)
         CROSS JOIN LATERAL (
           SELECT s.ts FROM container_stats s
           WHERE s.container_id = late.container_id AND s.ts > late.ts ORDER BY s.ts LIMIT 1
         ) AS next`,
        [late.map((index) => containerIds[index]), late.map((index) => timestamps[index])],
      );
      for (const row of successors.rows) timestamps.push(row.ts.toISOString());
    }
    await markLateBuckets(this.#pool, "container", timestamps, nowMs);
  }

  /** Writes the samples; returns each one's container id. */
  async write(samples: readonly StatsSample[]): Promise<number[]> {
    if (samples.length === 0) return [];
    const containerIds = await this.#containerIds(samples);
    try {
      await this.#writeRows(containerIds, samples);
    } catch (error) {
      if (!isMissingPartitionError(error)) throw error;
      // Retention dropped a day this process still believed in (the batch was decoded just
      // before midnight moved the retention's limit): create it again; the next retention run
      // drops it again.
      this.#partitions.forget();
      await this.#writeRows(containerIds, samples);
    }
    return containerIds;
  }

  /** Steady state: the decoder knew every container; else this process's cache; else Postgres. */
  async #containerIds(samples: readonly StatsSample[]): Promise<number[]> {
    const ids: number[] = new Array(samples.length);
    const unknown = new Map<number, { key: string; message: StatsMessage }>();
    samples.forEach((sample, index) => {
      const decodedId = isDecoded(sample) ? sample.containerId : undefined;
      if (decodedId !== undefined) {
        ids[index] = decodedId;
        return;
      }
      const message = messageOf(sample);
      const key = identityKey({
        host: message.host,
        runtime: message.runtime,
        external_id: message.container.external_id,
      });
      const cached = this.#directory.cached(key);
      if (cached !== undefined) ids[index] = cached;
      unknown.set(index, { key, message });
    });
    if (unknown.size === 0) return ids;
    const missing = [...unknown].filter(([index]) => ids[index] === undefined);
    if (missing.length > 0) {
      const resolved = await this.#directory.resolve(
        missing.map(([, { message }]) => ({
          host: message.host,
          runtime: message.runtime,
          external_id: message.container.external_id,
          name: message.container.name,
          seenAt: message.ts,
        })),
      );
      for (const [index, { key }] of missing) {
        const id = resolved.get(key);
        if (id === undefined) throw new Error(`no container id for ${key}`);
        ids[index] = id;
      }
    }
    this.#onContainerIds?.([...unknown].map(([index, { key }]) => [key, ids[index] as number]));
    return ids;
  }

  /**
   * One statement per batch, in autocommit: a single COPY (or INSERT) is a transaction of its
   * own, all rows or none, so the batch needs no BEGIN, SAVEPOINT or COMMIT round trips. A COPY
   * that met an already-stored sample stored nothing; the batch is then written with the INSERT.
   */
  async #writeRows(containerIds: number[], samples: readonly StatsSample[]): Promise<void> {
    await this.#partitions.ensureFor(
      this.#pool,
      samples.map((sample) => sample.ts),
    );
    const client = await this.#pool.connect();
    let failed: Error | undefined;
    try {
      if (this.#insertBatchesLeft === 0) {
        try {
          await this.#copy(client, containerIds, samples);
          return;
        } catch (error) {
          if ((error as { code?: unknown }).code !== "23505") throw error;
          this.#insertBatchesLeft = INSERT_BATCHES_AFTER_CONFLICT;
        }
      } else this.#insertBatchesLeft -= 1;
      await this.#insert(client, containerIds, samples);
    } catch (error) {
      failed = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      // A connection that failed mid-COPY may be in an unknown state: do not reuse it.
      client.release(failed !== undefined && (failed as { code?: unknown }).code === undefined);
    }
  }

  /**
   * The decoder's COPY lines are sent as they are: consecutive lines of one batch as one slice
   * of its text (a whole batch is one slice). Lines it could not build are built here.
   */
  async #copy(client: pg.PoolClient, containerIds: number[], samples: readonly StatsSample[]): Promise<void> {
    const chunks: Uint8Array[] = [];
    let run: { text: Uint8Array; start: number; end: number } | undefined;
    samples.forEach((sample, index) => {
      if (isDecoded(sample) && sample.copyText !== undefined) {
        if (run?.text === sample.copyText && run.end === sample.copyStart) run.end = sample.copyEnd;
        else {
          if (run) chunks.push(run.text.subarray(run.start, run.end));
          run = { text: sample.copyText, start: sample.copyStart, end: sample.copyEnd };
        }
        return;
      }
      if (run) chunks.push(run.text.subarray(run.start, run.end));
      run = undefined;
      chunks.push(Buffer.from(copyLine(containerIds[index] as number, messageOf(sample)), "latin1"));
    });
    if (run) chunks.push(run.text.subarray(run.start, run.end));
    await pipeline(Readable.from(chunks), client.query(copyFrom(COPY_SQL)));
  }

  async #insert(
    client: pg.PoolClient,
    containerIds: number[],
    samples: readonly StatsSample[],
  ): Promise<void> {
    const messages = samples.map(messageOf);
    const values: unknown[] = [containerIds];
    for (const field of SAMPLE_FIELDS) values.push(messages.map((message) => message[field]));
    await client.query(INSERT_SQL, values);
  }
}
