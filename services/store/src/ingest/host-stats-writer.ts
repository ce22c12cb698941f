// Writes host samples (`<prefix>.v1.host.<host>`): upserts each host's row (id, CPUs, memory,
// last seen) and inserts the samples once each, keyed by (host, ts).
import type { HostStatsMessage } from "@crowsnest/shared";
import { DayPartitionCache, isMissingPartitionError } from "../db/partitions.ts";
import { markLateBuckets } from "../rollup/rollup-marks.ts";
import type { ConnectionPool } from "./stats-writer.ts";

export class HostStatsWriter {
  readonly #pool: ConnectionPool;
  readonly #partitions = new DayPartitionCache("host_stats");

  constructor(options: { pool: ConnectionPool }) {
    this.#pool = options.pool;
  }

  async write(samples: readonly HostStatsMessage[]): Promise<void> {
    if (samples.length === 0) return;
    try {
      await this.#write(samples);
    } catch (error) {
      if (!isMissingPartitionError(error)) throw error;
      this.#partitions.forget();
      await this.#write(samples);
    }
  }

  async #write(samples: readonly HostStatsMessage[]): Promise<void> {
    await this.#partitions.ensureFor(
      this.#pool,
      samples.map((sample) => sample.ts),
    );
    // The newest sample of each host describes it; sorted so concurrent writers lock in one order.
    const newest = new Map<string, HostStatsMessage>();
    for (const sample of samples) {
      const seen = newest.get(sample.host);
      if (!seen || seen.ts <= sample.ts) newest.set(sample.host, sample);
    }
    const hosts = [...newest.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
    const client = await this.#pool.connect();
    let failed = false;
    try {
      await client.query("BEGIN");
      const upserted = await client.query<{ id: number; name: string }>(
        `INSERT INTO hosts (name, online_cpus, mem_total, last_seen)
         SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::timestamptz[])
         ON CONFLICT (name) DO UPDATE SET
           online_cpus = CASE WHEN excluded.last_seen >= hosts.last_seen THEN excluded.online_cpus ELSE hosts.online_cpus END,
           mem_total = CASE WHEN excluded.last_seen >= hosts.last_seen THEN excluded.mem_total ELSE hosts.mem_total END,
           last_seen = GREATEST(hosts.last_seen, excluded.last_seen)
         RETURNING id, name`,
        [
          hosts.map((host) => host.host),
          hosts.map((host) => host.online_cpus),
          hosts.map((host) => host.mem_total),
          hosts.map((host) => host.ts),
        ],
      );
      const ids = new Map(upserted.rows.map((row) => [row.name, Number(row.id)]));
      const column = <K extends keyof HostStatsMessage>(key: K) => samples.map((sample) => sample[key]);
      await client.query(
        `INSERT INTO host_stats (host_id, ts, cpu_percent, online_cpus, mem_total, mem_used, mem_available,
           load_1, load_5, load_15, uptime_s)
         SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::double precision[], $4::integer[],
           $5::bigint[], $6::bigint[], $7::bigint[], $8::double precision[], $9::double precision[],
           $10::double precision[], $11::double precision[])
         ON CONFLICT (host_id, ts) DO NOTHING`,
        [
          samples.map((sample) => ids.get(sample.host)),
          column("ts"),
          column("cpu_percent"),
          column("online_cpus"),
          column("mem_total"),
          column("mem_used"),
          column("mem_available"),
          column("load_1"),
          column("load_5"),
          column("load_15"),
          column("uptime_s"),
        ],
      );
      await markLateBuckets(client, "host", column("ts"));
      await client.query("COMMIT");
    } catch (error) {
      failed = (error as { code?: unknown }).code === undefined;
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release(failed);
    }
  }
}
