// Rollups at the edge of the raw retention: every hour whose raw samples retention still keeps
// gets its hourly row, so a period's history adds up the same from hourly rows as from daily
// ones. Both jobs run on one injected clock.
import { createLogger } from "@crowsnest/shared";
import { type RawBuilder, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statsFixture } from "../../../../test/support/bus-fixtures.ts";
import { type MigratedDatabase, openMigratedDatabase } from "../fixtures/migrated-database.ts";
import { ContainerDirectory } from "../ingest/container-directory.ts";
import { StatsWriter } from "../ingest/stats-writer.ts";
import { RetentionJob } from "../retention/retention-job.ts";
import { RollupJob } from "./rollup-job.ts";

const logger = createLogger({ service: "store", level: "silent" });
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const RAW_DAYS = 7;

describe("rollups at the edge of the raw retention", () => {
  let pg: MigratedDatabase;
  // 10:30 UTC today: the oldest day retention keeps then has ten hours before now minus 7 d.
  const nowMs = Math.floor(Date.now() / DAY_MS) * DAY_MS + 10.5 * HOUR_MS;
  const now = () => new Date(nowMs);

  beforeAll(async () => {
    pg = await openMigratedDatabase("rollup-retention-test");
  });

  afterAll(async () => {
    await pg?.close();
  });

  it("computes every hour whose raw samples are still kept, the oldest kept day's first hours included", async () => {
    // Two samples in every hour of the four days around the retention's edge.
    const writer = new StatsWriter({ pool: pg.pool, directory: new ContainerDirectory(pg.db) });
    const firstDayMs = nowMs - (RAW_DAYS + 2) * DAY_MS - 10.5 * HOUR_MS;
    const samples = [];
    for (let ms = firstDayMs; ms < firstDayMs + 4 * DAY_MS; ms += HOUR_MS / 2) {
      samples.push(statsFixture({ ts: new Date(ms + 60_000).toISOString() }));
    }
    await writer.write(samples);
    const days = { raw: RAW_DAYS, minute: 14, hourly: 90, daily: 400, events: 30, alertHistory: 90 };
    const retention = await new RetentionJob({ db: pg.db, pool: pg.pool, logger, days, now }).run();
    expect(retention.droppedPartitions).toHaveLength(2);
    await new RollupJob({ db: pg.db, logger, rawRetentionDays: RAW_DAYS, now }).run();

    const perHour = async (query: RawBuilder<{ bucket: Date; samples: number }>) =>
      (await query.execute(pg.db)).rows.map((row) => `${row.bucket.toISOString()} ${row.samples}`);
    const raw = await perHour(sql`
      SELECT date_trunc('hour', ts) AS bucket, count(*)::int AS samples FROM container_stats GROUP BY 1 ORDER BY 1`);
    // The two days retention kept, 48 hours, the first at 00:00 of the oldest.
    expect(raw).toHaveLength(48);
    expect(raw[0]).toBe(`${new Date(firstDayMs + 2 * DAY_MS).toISOString()} 2`);
    expect(await perHour(sql`SELECT bucket, samples FROM container_stats_hourly ORDER BY bucket`)).toEqual(
      raw,
    );
    // The hours add up to the day the daily rollup computed from the same samples.
    const daily = await sql<{ samples: number }>`
      SELECT samples FROM container_stats_daily WHERE bucket = ${new Date(firstDayMs + 2 * DAY_MS)}`.execute(
      pg.db,
    );
    expect(daily.rows).toEqual([{ samples: 48 }]);
  });
});
