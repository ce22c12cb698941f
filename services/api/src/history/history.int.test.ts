// History as the api serves it, from what the real store wrote and rolled up: hand-computed
// averages and maxima per hour across the rollup/raw seam, and per minute from raw samples.
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishStats, statsFixture } from "../../../../test/support/bus-fixtures.ts";
import { type StoreBackedApi, startStoreBackedApi } from "../../../../test/support/store-backed-api.ts";
import { eventually } from "../../../../test/support/test-env.ts";
import { CONTAINER_SERIES, type SeriesSource, seriesSql, toPoint } from "./series-query.ts";

const HOUR = 3600_000;
const CONTAINER = { external_id: "e".repeat(64), name: "hist" };

interface Point {
  ts: string;
  samples: number;
  cpu_percent: { avg: number | null; max: number | null };
  mem_limit: { avg: number | null };
  pids: { avg: number | null; max: number | null };
}

describe("stats history", () => {
  let api: StoreBackedApi;
  let containerId: number;
  // Four full hours back from the start of the current hour, plus the current hour so far.
  const hourStart = Math.floor(Date.now() / HOUR) * HOUR;
  const samples: { ts: number; cpu: number; pids: number }[] = [];
  for (let hour = 4; hour >= 0; hour--) {
    for (let minute = 0; minute < 60; minute += 15) {
      const ts = hourStart - hour * HOUR + minute * 60_000 + 7_000;
      if (ts < Date.now() - 60_000)
        samples.push({ ts, cpu: hour * 10 + minute / 15, pids: hour + minute / 15 + 1 });
    }
  }
  // Early in an hour the current one may have no sample yet.
  const expectedHours = [...new Set(samples.map((s) => Math.floor(s.ts / HOUR) * HOUR))];
  const get = <T>(path: string) => api.call<T>("GET", path);

  beforeAll(async () => {
    api = await startStoreBackedApi({ storeEnv: { CROWSNEST_ROLLUP_INTERVAL_MS: "1000" } });
    for (const sample of samples) {
      const ts = new Date(sample.ts).toISOString();
      await publishStats(
        api.js,
        api.subjects,
        statsFixture({
          container: CONTAINER,
          ts,
          cpu_percent: sample.cpu,
          mem_limit: 1000,
          pids: sample.pids,
        }),
      );
    }
    containerId = await eventually(
      async () => {
        const row = await api.postgres.db
          .selectFrom("containers")
          .select("id")
          .where("name", "=", "hist")
          .executeTakeFirst();
        return row && (await api.count("container_stats")) === samples.length ? row.id : undefined;
      },
      { timeoutMs: 15_000, what: "the samples stored" },
    );
  });

  afterAll(async () => {
    await api?.close();
  });

  it("serves hourly points from rollups and raw samples alike, with exact avg and max", async () => {
    // Wait until the store has rolled up the closed hours (its job runs every second here).
    const body = await eventually(
      async () => {
        const { status, body } = await get<{ sources: string[]; points: Point[]; granularity: string }>(
          `/api/v1/containers/${containerId}/stats/history?range=7d`,
        );
        // Complete once the hourly and minute jobs computed what the answer reads from them.
        return status === 200 &&
          body.points.length === expectedHours.length &&
          body.points.reduce((total, point) => total + point.samples, 0) === samples.length
          ? body
          : undefined;
      },
      { timeoutMs: 20_000, what: "hourly history with rollups" },
    );
    expect(body.granularity).toBe("1h");
    // Closed hours, then five-minute rows, minute rows (unless the minutes trusted end on a
    // five-minute edge) and raw samples for the newest minutes.
    expect(body.sources.filter((source) => source !== "minute")).toEqual(["hourly", "five_minute", "raw"]);
    for (const point of body.points) {
      const bucket = Date.parse(point.ts);
      const inBucket = samples.filter((s) => s.ts >= bucket && s.ts < bucket + HOUR).map((s) => s.cpu);
      expect(point.samples, point.ts).toBe(inBucket.length);
      expect(point.cpu_percent.avg).toBeCloseTo(inBucket.reduce((a, b) => a + b, 0) / inBucket.length, 9);
      expect(point.cpu_percent.max).toBe(Math.max(...inBucket));
      expect(point.mem_limit.avg).toBe(1000);
      const pids = samples.filter((s) => s.ts >= bucket && s.ts < bucket + HOUR).map((s) => s.pids);
      expect(point.pids.avg).toBeCloseTo(pids.reduce((a, b) => a + b, 0) / pids.length, 9);
      expect(point.pids.max).toBe(Math.max(...pids));
    }
    expect(body.points.map((p) => Date.parse(p.ts))).toEqual(expectedHours);
  });

  it("serves raw samples for 1h and per-step points for an explicit window", async () => {
    const raw = await get<{ granularity: string; from: string; points: Point[] }>(
      `/api/v1/containers/${containerId}/stats/history?range=1h`,
    );
    expect(raw.body.granularity).toBe("raw");
    const lastHour = samples.filter((s) => s.ts >= Date.parse(raw.body.from));
    expect(raw.body.points.map((p) => p.cpu_percent.avg)).toEqual(lastHour.map((s) => s.cpu));
    const from = new Date(hourStart - 2 * HOUR).toISOString();
    const to = new Date(hourStart - HOUR).toISOString();
    const halfHours = await get<{ points: Point[] }>(
      `/api/v1/containers/${containerId}/stats/history?from=${from}&to=${to}&step=30m`,
    );
    const expected = [0, 1].map((half) => {
      const start = hourStart - 2 * HOUR + half * 1800_000;
      return samples.filter((s) => s.ts >= start && s.ts < start + 1800_000).map((s) => s.cpu);
    });
    expect(halfHours.body.points.map((p) => p.cpu_percent.max)).toEqual(
      expected.map((values) => Math.max(...values)),
    );
  });

  it.each([
    ["?range=2d", "range"],
    ["?range=1h&step=1m", "range"],
    ["?from=2026-01-01T00:00:00Z", "from"],
    ["?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z&step=1h", "to"],
    ["?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&step=1d", "from"],
    ["?from=2026-01-01T00:00:00Z&to=2026-01-10T00:00:00Z&step=1s", "step"],
    ["?from=2026-01-01T00:00:00Z&step=0s", "step"],
  ])("answers %s with a 400 naming %s", async (query, field) => {
    const { status, body } = await get<{ error: { code: string; message: string } }>(
      `/api/v1/containers/${containerId}/stats/history${query}`,
    );
    expect(status).toBe(400);
    expect(body.error.message).toContain(field);
  });

  it("reaches the present: the newest, partial minute comes from raw samples", async () => {
    const ts = Date.now() - 1000;
    await publishStats(
      api.js,
      api.subjects,
      statsFixture({
        container: CONTAINER,
        ts: new Date(ts).toISOString(),
        cpu_percent: 77,
        mem_limit: 1000,
      }),
    );
    const body = await eventually(
      async () => {
        const { body } = await get<{ sources: string[]; granularity: string; points: Point[] }>(
          `/api/v1/containers/${containerId}/stats/history?range=6h`,
        );
        return body.points.at(-1)?.cpu_percent.max === 77 ? body : undefined;
      },
      { timeoutMs: 15_000, what: "the newest sample in the 6h history" },
    );
    expect(body.granularity).toBe("1m");
    expect(body.sources).toEqual(["minute", "raw"]);
    expect(body.points.at(-1)).toMatchObject({
      ts: new Date(Math.floor(ts / 60_000) * 60_000).toISOString(),
      samples: 1,
    });
  });

  it("answers 404 for an unknown container or host", async () => {
    expect((await get(`/api/v1/containers/987654/stats/history`)).status).toBe(404);
    expect((await get(`/api/v1/hosts/987654/stats/history`)).status).toBe(404);
  });
});

describe("history windows that do not start or end on a step", () => {
  const DAY = 24 * HOUR;
  const MINUTE = 60_000;
  // Yesterday (UTC), one sample a minute from 04:00 to 08:59: inside raw retention, and every
  // hour of it closed, so hourly rollups serve whole hours.
  const yesterday = Math.floor(Date.now() / DAY) * DAY - DAY;
  const at = (hhmm: string) => yesterday + Number(hhmm.slice(0, 2)) * HOUR + Number(hhmm.slice(3)) * MINUTE;
  const iso = (ms: number) => new Date(ms).toISOString();
  const samples = Array.from({ length: 300 }, (_, i) => at("04:00") + i * MINUTE + 5_000);
  const inRange = (from: number, to: number) => samples.filter((ts) => ts >= from && ts < to).length;
  // Points equal within float rounding (sums of doubles added in another order).
  const rounded = (points: unknown) =>
    JSON.parse(JSON.stringify(points), (_key, value: unknown) =>
      typeof value === "number" ? Number(value.toPrecision(12)) : value,
    );
  let api: StoreBackedApi;
  let containerId: number;
  interface Answer {
    from: string;
    to: string;
    sources: string[];
    points: { ts: string; samples: number }[];
  }
  const history = async (query: string) => {
    const { status, body } = await api.call<Answer>(
      "GET",
      `/api/v1/containers/${containerId}/stats/history?${query}`,
    );
    expect(status, JSON.stringify(body)).toBe(200);
    return body;
  };

  beforeAll(async () => {
    api = await startStoreBackedApi({ storeEnv: { CROWSNEST_ROLLUP_INTERVAL_MS: "1000" } });
    const container = { external_id: "a".repeat(64), name: "unaligned" };
    for (const ts of samples) {
      await publishStats(api.js, api.subjects, statsFixture({ container, ts: iso(ts), cpu_percent: 1 }));
    }
    containerId = await eventually(
      async () => {
        const row = await api.postgres.db
          .selectFrom("containers")
          .select("id")
          .where("name", "=", "unaligned")
          .executeTakeFirst();
        if (!row || (await api.count("container_stats")) !== samples.length) return undefined;
        // Every hour, five minutes and minute of yesterday's samples rolled up.
        const rolledUp = await sql<{
          hourly: string | null;
          five_minute: string | null;
          minute: string | null;
        }>`
          SELECT (SELECT sum(samples) FROM container_stats_hourly WHERE container_id = ${row.id}) AS hourly,
            (SELECT sum(samples) FROM container_stats_five_minute WHERE container_id = ${row.id}) AS five_minute,
            (SELECT sum(samples) FROM container_stats_minute WHERE container_id = ${row.id}) AS minute`.execute(
          api.postgres.db,
        );
        const counts = rolledUp.rows[0];
        return [counts?.hourly, counts?.five_minute, counts?.minute].every(
          (count) => Number(count) === samples.length,
        )
          ? row.id
          : undefined;
      },
      { timeoutMs: 90_000, what: "the samples stored and rolled up by hour, five minutes and minute" },
    );
  });

  afterAll(async () => {
    await api?.close();
  });

  it("aligns from down to a whole-hour step and says so: the first hour is whole, not dropped", async () => {
    const body = await history(`from=${iso(at("05:35"))}&to=${iso(at("08:00"))}&step=1h`);
    expect(body.sources).toContain("hourly");
    expect(body.from).toBe(iso(at("05:00")));
    expect(body.to).toBe(iso(at("08:00")));
    expect(body.points).toEqual(
      ["05:00", "06:00", "07:00"].map((hour) => ({
        ...body.points.find((point) => point.ts === iso(at(hour))),
        ts: iso(at(hour)),
        samples: inRange(at(hour), at(hour) + HOUR),
      })),
    );
  });

  it("aligns from down to a whole day: the day's point counts every sample of the day", async () => {
    const body = await history(`from=${iso(at("04:35"))}&to=${iso(yesterday + DAY)}&step=1d`);
    expect(body.from).toBe(iso(yesterday));
    expect(body.points.map((point) => [point.ts, point.samples])).toEqual([[iso(yesterday), samples.length]]);
  });

  it("aligns to up too, so the last point is a whole step and not a rollup's hour counted past to", async () => {
    const body = await history(`from=${iso(at("05:00"))}&to=${iso(at("07:10"))}&step=1h`);
    expect(body.to).toBe(iso(at("08:00")));
    expect(body.points.at(-1)).toMatchObject({ ts: iso(at("07:00")), samples: 60 });
  });

  it("applies the same rule to steps served from five-minute and minute rollups", async () => {
    const minutes = await history(`from=${iso(at("05:35"))}&to=${iso(at("05:41"))}&step=2m`);
    expect(minutes.sources).toEqual(["minute"]);
    expect(minutes.from).toBe(iso(at("05:34")));
    expect(minutes.to).toBe(iso(at("05:42")));
    expect(minutes.points.map((point) => [point.ts, point.samples])).toEqual(
      ["05:34", "05:36", "05:38", "05:40"].map((minute) => [iso(at(minute)), 2]),
    );
    const body = await history(`from=${iso(at("05:35"))}&to=${iso(at("06:40"))}&step=30m`);
    expect(body.sources).toEqual(["five_minute"]);
    expect(body.from).toBe(iso(at("05:30")));
    expect(body.to).toBe(iso(at("07:00")));
    expect(body.points.map((point) => [point.ts, point.samples])).toEqual([
      [iso(at("05:30")), 30],
      [iso(at("06:00")), 30],
      [iso(at("06:30")), 30],
    ]);
  });

  it("and to steps of seconds, served from raw samples", async () => {
    const body = await history(`from=${iso(at("05:35") + 10_000)}&to=${iso(at("05:36") + 40_000)}&step=30s`);
    expect(body.sources).toEqual(["raw"]);
    expect(body.from).toBe(iso(at("05:35")));
    expect(body.to).toBe(iso(at("05:37")));
    expect(body.points.map((point) => [point.ts, point.samples])).toEqual([
      [iso(at("05:35")), 1],
      [iso(at("05:36")), 1],
    ]);
  });

  it("gives the same answer whichever tier serves it", async () => {
    const nowMs = Date.now();
    const answer = async (stepMs: number, sources: readonly SeriesSource[]) => {
      const statement = seriesSql(
        CONTAINER_SERIES,
        [containerId],
        { fromMs: at("04:00"), toMs: at("09:00"), stepMs, nowMs },
        { sources },
      );
      expect(statement?.sources).toEqual(sources.slice(0, 1));
      const rows = (await statement?.query.execute(api.postgres.db))?.rows ?? [];
      return rows.map((row) => toPoint(CONTAINER_SERIES, row));
    };
    const close = (a: unknown, b: unknown) => expect(rounded(a)).toEqual(rounded(b));
    const hourlyFromRaw = await answer(HOUR, ["raw"]);
    expect(hourlyFromRaw).toHaveLength(5);
    close(await answer(HOUR, ["minute", "raw"]), hourlyFromRaw);
    close(await answer(HOUR, ["hourly", "minute", "raw"]), hourlyFromRaw);
    const fiveMinutesFromRaw = await answer(5 * MINUTE, ["raw"]);
    expect(fiveMinutesFromRaw).toHaveLength(60);
    close(await answer(5 * MINUTE, ["minute", "raw"]), fiveMinutesFromRaw);
    // Five-minute rows: as points where they are the step, aggregated where they divide it.
    close(await answer(5 * MINUTE, ["five_minute", "minute", "raw"]), fiveMinutesFromRaw);
    close(await answer(HOUR, ["five_minute", "minute", "raw"]), hourlyFromRaw);
    const quartersFromRaw = await answer(15 * MINUTE, ["raw"]);
    expect(quartersFromRaw).toHaveLength(20);
    close(await answer(15 * MINUTE, ["five_minute", "minute", "raw"]), quartersFromRaw);
    // Steps that are the minute rows themselves: read as points, not aggregated.
    const minutesFromRaw = await answer(MINUTE, ["raw"]);
    expect(minutesFromRaw.length).toBeGreaterThan(0);
    close(await answer(MINUTE, ["minute", "raw"]), minutesFromRaw);
  });

  it("gives the same answer where a chart's tiers meet off the step grid, as they do near the present", async () => {
    // A 24 h chart's window ends at the present: five-minute rows up to the last five-minute edge
    // the minute tier is trusted to, minute rows after it, and raw samples for the newest minutes.
    // The minute tier's edge lies off the grid four minutes in five, so one step takes its rows
    // from two tiers; the five-minute rows before it are points as they are.
    const chart = async (nowMs: number, sources?: readonly SeriesSource[]) => {
      const statement = seriesSql(
        CONTAINER_SERIES,
        [containerId],
        { fromMs: at("04:00"), toMs: at("07:25"), stepMs: 5 * MINUTE, nowMs },
        sources ? { sources } : {},
      );
      const rows = (await statement?.query.execute(api.postgres.db))?.rows ?? [];
      return { sources: statement?.sources, points: rows.map((row) => toPoint(CONTAINER_SERIES, row)) };
    };
    // 07:20:30: minutes trusted up to 07:17, five-minute rows up to 07:15, the 07:15 step from
    // minute rows (07:15, 07:16) and raw samples (07:17 on). 07:23:30: the edge is 07:20, on the grid.
    for (const nowMs of [at("07:20") + 30_000, at("07:23") + 30_000]) {
      const fromRaw = await chart(nowMs, ["raw"]);
      expect(fromRaw.points).toHaveLength(41);
      const tiers = await chart(nowMs);
      expect(tiers.sources).toEqual(
        nowMs < at("07:21") ? ["five_minute", "minute", "raw"] : ["five_minute", "raw"],
      );
      expect(rounded(tiers.points)).toEqual(rounded(fromRaw.points));
    }
  });
});
