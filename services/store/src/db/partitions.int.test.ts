// Day partitions created by several store instances at once (each store's writers and its
// retention job create them): whoever comes second must find the partition, never fail.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../../../test/support/test-env.ts";
import { type MigratedDatabase, openMigratedDatabase } from "../fixtures/migrated-database.ts";
import { dayNumber, ensureDayPartition, listDayPartitions, type PartitionedTable } from "./partitions.ts";

/** The advisory lock crowsnest_ensure_day_partition serializes creators of one table's partitions with. */
const PARTITION_LOCK = "1131573760, hashtext($1)";

describe("day partitions created concurrently", () => {
  let database: MigratedDatabase;
  /** Connections standing for store instances, and one that holds them at the lock. */
  const clients: pg.Client[] = [];
  const connect = async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    clients.push(client);
    return client;
  };
  // Days relative to now, away from the days anything else here creates.
  const firstDay = dayNumber(new Date()) + 10;

  beforeAll(async () => {
    database = await openMigratedDatabase("partitions-test");
  });

  afterAll(async () => {
    for (const client of clients) await client.end();
    await database?.close();
  });

  it("lets two instances that both found the day missing create it, once, without an error", async () => {
    const [a, b, gate] = [await connect(), await connect(), await connect()];
    const pid = async (client: pg.Client) =>
      (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
    const creatorPids = [await pid(a), await pid(b)];
    const table: PartitionedTable = "container_stats";
    for (let day = firstDay; day < firstDay + 20; day++) {
      // Both look for the day and find it missing while the gate holds the creators' lock, so
      // both then queue for it: the second to get it must see what the first created.
      await gate.query(`SELECT pg_advisory_lock(${PARTITION_LOCK})`, [table]);
      const creating = Promise.allSettled([
        ensureDayPartition(a, table, day),
        ensureDayPartition(b, table, day),
      ]);
      await eventually(
        async () => {
          const waiting = await gate.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = ANY($1)",
            [creatorPids],
          );
          return waiting.rows[0]?.n === 2 ? true : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 20, what: "both creators waiting for the lock" },
      );
      await gate.query(`SELECT pg_advisory_unlock(${PARTITION_LOCK})`, [table]);
      const outcomes = await creating;
      expect(
        outcomes.map((outcome) => (outcome.status === "fulfilled" ? outcome.value : outcome.reason)),
      ).toEqual(expect.arrayContaining([true, false]));
    }
    const days = (await listDayPartitions(a, table)).filter((partition) => partition.day >= firstDay);
    expect(days).toHaveLength(20);
    expect(days.every((partition) => partition.attached)).toBe(true);
  });

  it("survives many creators of the same days at the same moment", async () => {
    const creators = [await connect(), await connect(), await connect(), await connect()];
    const start = firstDay + 100;
    for (let round = 0; round < 50; round++) {
      const table: PartitionedTable = round % 2 === 0 ? "container_stats" : "host_stats";
      const days = [0, 1, 2].map((offset) => start + 3 * round + offset);
      // All at once, each creator going through the three days in its own order.
      const created = await Promise.all(
        creators.map(async (client, index) => {
          let count = 0;
          for (const day of [...days.slice(index % 3), ...days.slice(0, index % 3)]) {
            if (await ensureDayPartition(client, table, day)) count += 1;
          }
          return count;
        }),
      );
      // Each day is created by exactly one of them.
      expect(created.reduce((sum, n) => sum + n, 0)).toBe(3);
    }
    for (const table of ["container_stats", "host_stats"] as const) {
      const days = (await listDayPartitions(database.pool, table)).filter(
        (partition) => partition.day >= start,
      );
      expect(days).toHaveLength(75);
      expect(days.every((partition) => partition.attached)).toBe(true);
    }
  });
});
