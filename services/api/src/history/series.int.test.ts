// Many series in one request, and history and series as CSV, against real Postgres: 520
// containers with 70 minutes of 10 s samples, rolled up by the store's minute job. Sparklines of
// 500 ids agree with the raw samples; unknown ids, filters, the rows-per-series limit and bad
// input answer as documented.
import type { AddressInfo } from "node:net";
import { createLogger, createSubjects } from "@crowsnest/shared";
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import type { NatsConnection } from "@nats-io/transport-node";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_READ_TOKEN, type TestApp } from "../../../../test/support/api-app.ts";
import {
  connectTestNats,
  createTestDatabase,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../../test/support/test-env.ts";
import type { StoreDatabase } from "../../../store/src/db/database.ts";
import { migrateToLatest } from "../../../store/src/db/migrations.ts";
import { dayNumber, ensureDayPartition } from "../../../store/src/db/partitions.ts";
import { RollupJob } from "../../../store/src/rollup/rollup-job.ts";
import { markLateBuckets } from "../../../store/src/rollup/rollup-marks.ts";
import type { ApiDatabase } from "../db/api-database.ts";
import { createApiServer } from "../http/api-server.ts";
import {
  CONTAINER_SERIES,
  finiteSql,
  jsonNumberSql,
  pointsJsonPieces,
  querySeries,
  seriesPointsJsonSql,
  seriesSql,
  significantSql,
  toPoint,
} from "./series-query.ts";

const CONTAINERS = 520;
const MINUTE = 60_000;

interface SeriesBody {
  from: string;
  to: string;
  step: string;
  sources: string[];
  metrics: string[];
  ts: string[];
  series: {
    id: number;
    name: string;
    host?: string;
    samples: number[];
    values: Record<string, { avg: (number | null)[]; max?: (number | null)[] }>;
  }[];
  unknown_ids: number[];
}

describe("series of many containers", () => {
  let database: TestDatabase;
  let postgres: PostgresHandle<ApiDatabase>;
  let nc: NatsConnection;
  let testApp: TestApp;
  const nowMs = Date.now();
  const get = async <T>(path: string) => {
    const response = await testApp.app.request(path, {
      headers: { Authorization: `Bearer ${TEST_READ_TOKEN}` },
    });
    const text = await response.text();
    return {
      status: response.status,
      contentType: response.headers.get("Content-Type") ?? "",
      text,
      body: (response.headers.get("Content-Type")?.startsWith("application/json")
        ? JSON.parse(text)
        : undefined) as T,
    };
  };
  const series = (query: string) => get<SeriesBody>(`/api/v1/stats/series?${query}`);
  const ids = (from: number, count: number) => Array.from({ length: count }, (_, n) => from + n).join(",");

  beforeAll(async () => {
    database = await createTestDatabase();
    postgres = openPostgres<ApiDatabase>({
      url: database.url,
      poolSize: 4,
      applicationName: "series-test",
      onIdleError: () => undefined,
    });
    const store = postgres as unknown as PostgresHandle<StoreDatabase>;
    await migrateToLatest(store.db);
    for (let day = dayNumber(new Date(nowMs)) - 1; day <= dayNumber(new Date(nowMs)); day++) {
      await ensureDayPartition(store.pool, "container_stats", day);
      await ensureDayPartition(store.pool, "host_stats", day);
    }
    // Containers 1–300 on h1, the rest on h2; every other one tier=web; 1–40 in compose
    // project shop; 41–50 in namespace prod; 520 is gone.
    await sql`
      INSERT INTO containers (host, runtime, external_id, name, state, labels, compose_project, last_seen, gone_at)
      SELECT CASE WHEN i <= 300 THEN 'h1' ELSE 'h2' END, 'docker', 'ext-' || i, 'c' || i, 'running',
        jsonb_build_object('tier', CASE WHEN i % 2 = 0 THEN 'web' ELSE 'db' END)
          || CASE WHEN i BETWEEN 41 AND 50 THEN '{"io.kubernetes.pod.namespace": "prod"}'::jsonb ELSE '{}' END,
        CASE WHEN i <= 40 THEN 'shop' END, now(), CASE WHEN i = ${CONTAINERS} THEN now() END
      FROM generate_series(1, ${CONTAINERS}) AS i`.execute(postgres.db);
    await sql`
      INSERT INTO container_stats (container_id, ts, cpu_percent, mem_used, mem_limit, pids)
      SELECT c, ts, (c % 50) + extract(second FROM ts) / 10, 1000 * c, 1000000, c % 7 + 1
      FROM generate_series(1, ${CONTAINERS}) AS c,
        generate_series(date_trunc('second', ${new Date(nowMs - 70 * MINUTE)}::timestamptz),
          ${new Date(nowMs - 1000)}::timestamptz, interval '10 seconds') AS ts`.execute(postgres.db);
    await sql`INSERT INTO hosts (name, online_cpus, mem_total, last_seen) VALUES ('h1', 2, 1000, now())`.execute(
      postgres.db,
    );
    await sql`
      INSERT INTO host_stats (host_id, ts, cpu_percent, online_cpus, mem_total, mem_used, mem_available, load_1, load_5, load_15, uptime_s)
      SELECT 1, ts, 25, 2, 1000, 500, 500, 1, 1, 1, 1
      FROM generate_series(${new Date(nowMs - 70 * MINUTE)}::timestamptz, ${new Date(nowMs - 1000)}::timestamptz,
        interval '10 seconds') AS ts`.execute(postgres.db);
    await sql`ANALYZE`.execute(postgres.db);
    await new RollupJob({
      db: store.db,
      logger: createLogger({ service: "store", level: "silent" }),
      rawRetentionDays: 7,
      granularities: ["minute"],
    }).run();
    nc = await connectTestNats();
    testApp = await createTestApp({ postgres, nc, subjects: createSubjects(testSubjectPrefix()) });
  });

  afterAll(async () => {
    await testApp?.close();
    await nc?.close();
    await postgres?.destroy();
    await database?.drop();
  });

  it("serves 500 sparklines in one answer, each agreeing with the raw samples", async () => {
    const { status, body, text, contentType } = await series(
      `ids=${ids(1, 500)}&metrics=cpu_percent&range=1h&points=60`,
    );
    expect(status).toBe(200);
    expect(contentType).toMatch(/^application\/json/);
    // The api writes the answer around the values' texts: exactly what JSON.stringify would write.
    expect(text).toBe(JSON.stringify(body));
    expect(body.step).toBe("1m");
    expect(body.sources).toEqual(["minute", "raw"]);
    expect(body.ts.length).toBeGreaterThanOrEqual(60);
    expect(body.ts.length).toBeLessThanOrEqual(61);
    expect(body.ts[0]).toBe(body.from);
    expect(body.series.map((entry) => entry.id)).toEqual(Array.from({ length: 500 }, (_, n) => n + 1));
    expect(body.unknown_ids).toEqual([]);
    const raw = await sql<{ id: string; n: number }>`
      SELECT container_id AS id, count(*)::int AS n FROM container_stats
      WHERE container_id <= 500 AND ts >= ${body.from}::timestamptz AND ts < ${body.to}::timestamptz
      GROUP BY 1`.execute(postgres.db);
    const rawCounts = new Map(raw.rows.map((row) => [Number(row.id), row.n]));
    for (const entry of body.series) {
      expect(
        entry.samples.reduce((a, b) => a + b, 0),
        `container ${entry.id}`,
      ).toBe(rawCounts.get(entry.id));
      expect(Object.keys(entry.values)).toEqual(["cpu_percent"]);
    }
    // Point by point, the same as the raw samples alone give (within float rounding).
    for (const id of [1, 257, 500]) {
      const statement = seriesSql(
        CONTAINER_SERIES,
        [id],
        { fromMs: Date.parse(body.from), toMs: Date.parse(body.to), stepMs: MINUTE, nowMs: Date.now() },
        { sources: ["raw"] },
      );
      const points = ((await statement?.query.execute(postgres.db))?.rows ?? []).map((row) =>
        toPoint(CONTAINER_SERIES, row),
      );
      const entry = body.series.find((candidate) => candidate.id === id);
      const fromSeries = body.ts.flatMap((ts, n) =>
        (entry?.samples[n] ?? 0) > 0
          ? [{ ts, avg: entry?.values.cpu_percent?.avg[n], max: entry?.values.cpu_percent?.max?.[n] }]
          : [],
      );
      expect(fromSeries.map((point) => point.ts)).toEqual(points.map((point) => point.ts));
      points.forEach((point, n) => {
        const cpu = point.cpu_percent as { avg: number; max: number };
        expect(fromSeries[n]?.avg).toBeCloseTo(cpu.avg, 9);
        expect(fromSeries[n]?.max).toBe(cpu.max);
      });
    }
  });

  it("places a series with steps without samples on its steps: 6 hours of which 70 minutes have samples", async () => {
    const { status, body, text } = await series("ids=7,8&metrics=cpu_percent,mem_limit&range=6h&points=36");
    expect(status).toBe(200);
    expect(text).toBe(JSON.stringify(body));
    expect(body.step).toBe("10m");
    for (const id of [7, 8]) {
      const entry = body.series.find((candidate) => candidate.id === id);
      const statement = seriesSql(
        CONTAINER_SERIES,
        [id],
        { fromMs: Date.parse(body.from), toMs: Date.parse(body.to), stepMs: 10 * MINUTE, nowMs: Date.now() },
        { sources: ["raw"] },
      );
      const points = ((await statement?.query.execute(postgres.db))?.rows ?? []).map((row) =>
        toPoint(CONTAINER_SERIES, row),
      );
      expect(points.length).toBeGreaterThanOrEqual(7);
      expect(points.length).toBeLessThan(body.ts.length);
      const byTs = new Map(points.map((point) => [point.ts, point]));
      body.ts.forEach((ts, n) => {
        const point = byTs.get(ts);
        const cpu = point?.cpu_percent as { avg: number; max: number } | undefined;
        expect(entry?.samples[n], `container ${id} at ${ts}`).toBe(point?.samples ?? 0);
        if (cpu === undefined) {
          expect(entry?.values.cpu_percent).toMatchObject({ avg: expect.any(Array), max: expect.any(Array) });
          expect([entry?.values.cpu_percent?.avg[n], entry?.values.cpu_percent?.max?.[n]]).toEqual([
            null,
            null,
          ]);
          expect(entry?.values.mem_limit?.avg[n]).toBeNull();
        } else {
          expect(entry?.values.cpu_percent?.avg[n]).toBeCloseTo(cpu.avg, 9);
          expect(entry?.values.cpu_percent?.max?.[n]).toBe(cpu.max);
          expect(entry?.values.mem_limit?.avg[n]).toBe(1e6);
        }
      });
    }
  });

  it("lists unknown ids apart and answers for the others", async () => {
    const { status, body, text } = await series(`ids=3,999999,4,888888&metrics=cpu_percent,mem_limit`);
    expect(status).toBe(200);
    expect(text).toBe(JSON.stringify(body));
    expect(body.series.map((entry) => entry.id)).toEqual([3, 4]);
    expect(body.unknown_ids).toEqual([999999, 888888]);
    expect(body.series[0]?.values.mem_limit).toEqual({ avg: expect.any(Array) });
    expect(
      body.series[0]?.values.mem_limit?.avg.filter((value) => value !== null).every((v) => v === 1e6),
    ).toBe(true);
  });

  it("serves pids from the minute tier and raw samples alike: avg and max per step", async () => {
    // Container 10 always had 10 % 7 + 1 = 4 processes.
    const { status, body } = await series("ids=10&metrics=pids&range=1h&points=60");
    expect(status).toBe(200);
    expect(body.sources).toEqual(["minute", "raw"]);
    const pids = body.series[0]?.values.pids;
    const sampled = body.ts.flatMap((_, n) => ((body.series[0]?.samples[n] ?? 0) > 0 ? [n] : []));
    expect(sampled.length).toBeGreaterThan(50);
    for (const n of sampled) {
      expect(pids?.avg[n]).toBe(4);
      expect(pids?.max?.[n]).toBe(4);
    }
  });

  it.each([
    ["host=h2", 219], // 301–519: 520 is gone
    ["host=h1&label=tier%3Dweb", 150],
    ["compose_project=shop", 40],
    ["namespace=prod", 10],
    ["namespace=prod&label=tier!%3Dweb", 5],
  ])("selects by filter: %s", async (query, count) => {
    const { status, body } = await series(`${query}&metrics=mem_used&range=6h&points=36`);
    expect(status).toBe(200);
    expect(body.step).toBe("10m");
    expect(body.series).toHaveLength(count);
    expect(body.series.every((entry) => entry.samples.some((n) => n > 0))).toBe(true);
  });

  it.each([
    ["metrics=cpu_percent", "ids"],
    [`ids=${ids(1, 501)}&metrics=cpu_percent`, "ids"],
    ["ids=1,abc&metrics=cpu_percent", "ids"],
    ["ids=0&metrics=cpu_percent", "ids"],
    ["ids=1", "metrics"],
    ["ids=1&metrics=cpu_percent,load_1", "metrics"],
    ["ids=1&metrics=cpu_percent&points=0", "points"],
    ["ids=1&metrics=cpu_percent&points=1001", "points"],
    ["ids=1&metrics=cpu_percent&range=1h&from=2026-01-01T00:00:00Z", "range"],
    ["ids=1&metrics=cpu_percent&to=2026-01-01T00:00:00Z", "from"],
    ["ids=1&metrics=cpu_percent&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"],
    ["ids=1&metrics=cpu_percent&range=2d", "range"],
    ["ids=1&metrics=cpu_percent&aggregates=avg,median", "aggregates"],
    ["ids=1&metrics=cpu_percent&digits=0", "digits"],
    ["ids=1&metrics=cpu_percent&digits=16", "digits"],
    ["ids=1&metrics=cpu_percent&digits=2.5", "digits"],
    ["ids=1&metrics=cpu_percent&digits=", "digits"],
    ["ids=1&metrics=cpu_percent&aggregates=", "aggregates"],
    // mem_limit has an average only: max alone would be an answer without values.
    ["ids=1&metrics=mem_limit&aggregates=max", "aggregates"],
    // All 519 live containers: more than one answer holds.
    ["label=tier!%3Dnone&metrics=cpu_percent", "ids"],
  ])("answers %s with a 400 naming %s", async (query, field) => {
    const { status, body } = await get<{ error: { code: string; message: string } }>(
      `/api/v1/stats/series?${query}`,
    );
    expect(status).toBe(400);
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.message).toContain(field);
  });

  it("rounds values to significant digits in Postgres: half away from zero, zeros and nulls kept", async () => {
    const rounded = await sql<{ v: string | null; digits: number }>`
      SELECT ${sql.raw(significantSql(finiteSql("v"), 3))}::text AS v, 3 AS digits
      FROM (VALUES (1.23456::float8, 1), (-1.23456, 2), (0.000123456, 3), (123456789, 4), (999.95, 5),
        (0, 6), (NULL, 7), ('NaN', 8), ('Infinity', 9), (12.25, 10), (-12.25, 11), (5e-300, 12)) AS t(v, n)
      ORDER BY n`.execute(postgres.db);
    expect(rounded.rows.map((row) => row.v)).toEqual([
      "1.23",
      "-1.23",
      "0.000123",
      "123000000",
      "1000",
      "0",
      null,
      null,
      null,
      "12.3",
      "-12.3",
      `0.${"0".repeat(299)}5`,
    ]);
    expect(() => significantSql("v", 0)).toThrow(RangeError);
    expect(() => significantSql("v", 16)).toThrow(RangeError);
  });

  it("answers values to `digits` significant digits from the kept minutes, raw samples and other tiers alike", async () => {
    // Within half a unit of the digits' last place of the full value, and no more digits than asked.
    const expectRounded = (
      full: number | null | undefined,
      value: number | null | undefined,
      digits: number,
    ) => {
      if (full === null || full === undefined) return expect(value).toBe(full);
      expect(value).not.toBeNull();
      const unit = 10 ** (Math.floor(Math.log10(Math.abs(full))) - digits + 1);
      expect(Math.abs((value ?? Number.NaN) - full)).toBeLessThanOrEqual(unit / 2 + unit * 1e-9);
      expect(String(value).replace(/^[-0.]+|\.|0+$/g, "").length).toBeLessThanOrEqual(digits);
    };
    for (const window of ["range=1h&points=60", "range=6h&points=36"]) {
      const query = `ids=1,2,257,999999&metrics=cpu_percent,mem_used,mem_limit&${window}`;
      // Rounded first, then every digit, then rounded again: the kept texts of one do not leak into the other.
      const first = await series(`${query}&digits=2`);
      const full = await series(query);
      const again = await series(`${query}&digits=1`);
      for (const [answer, digits] of [
        [first, 2],
        [again, 1],
      ] as const) {
        expect(answer.status).toBe(200);
        expect(answer.text).toBe(JSON.stringify(answer.body));
        expect(answer.body.unknown_ids).toEqual([999999]);
        expect(answer.body.sources).toEqual(full.body.sources);
        for (const entry of answer.body.series) {
          const whole = full.body.series.find((candidate) => candidate.id === entry.id);
          const wholeAt = new Map(full.body.ts.map((ts, n) => [ts, n]));
          answer.body.ts.forEach((ts, n) => {
            const m = wholeAt.get(ts);
            // A step the other answer does not hold (a minute turned between them) or whose
            // samples differ (the current minute grew) is not comparable.
            if (m === undefined || whole?.samples[m] !== entry.samples[n]) return;
            for (const metric of ["cpu_percent", "mem_used", "mem_limit"]) {
              expectRounded(whole?.values[metric]?.avg[m], entry.values[metric]?.avg[n], digits);
              expectRounded(whole?.values[metric]?.max?.[m], entry.values[metric]?.max?.[n], digits);
            }
          });
        }
      }
      // The full answer has the digits the others lost: 1000 × 257 and c % 50 + 2.8 at every step.
      const c257 = full.body.series.find((entry) => entry.id === 257);
      expect(c257?.values.mem_used?.avg.filter((value) => value !== null).every((v) => v === 257000)).toBe(
        true,
      );
      expect(first.body.series.find((entry) => entry.id === 257)?.values.mem_used?.avg).toContain(260000);
      expect(again.body.series.find((entry) => entry.id === 257)?.values.mem_used?.avg).toContain(300000);
    }
  });

  it("serves hosts the same way", async () => {
    const { status, body, text } = await get<SeriesBody>(
      `/api/v1/hosts/stats/series?metrics=cpu_percent,load_1&points=12`,
    );
    expect(status).toBe(200);
    expect(text).toBe(JSON.stringify(body));
    expect(body.series[0]).not.toHaveProperty("host");
    expect(body.step).toBe("5m");
    expect(body.series.map((entry) => [entry.id, entry.name])).toEqual([[1, "h1"]]);
    expect(
      body.series[0]?.values.cpu_percent?.avg.filter((value) => value !== null).every((v) => v === 25),
    ).toBe(true);
    expect((await get(`/api/v1/hosts/stats/series?metrics=mem_used_bogus`)).status).toBe(400);
  });

  it("serves hosts' 1-minute series from the minute tier's computed minutes and raw samples too", async () => {
    const { status, body, text } = await get<SeriesBody>(
      "/api/v1/hosts/stats/series?metrics=cpu_percent,mem_total&range=1h&points=60",
    );
    expect(status).toBe(200);
    expect(text).toBe(JSON.stringify(body));
    expect(body.step).toBe("1m");
    expect(body.sources).toEqual(["minute", "raw"]);
    const host = body.series[0];
    const sampled = body.ts.flatMap((_, n) => ((host?.samples[n] ?? 0) > 0 ? [n] : []));
    expect(sampled.length).toBeGreaterThan(50);
    for (const n of sampled) {
      expect(host?.values.cpu_percent?.avg[n]).toBe(25);
      expect(host?.values.cpu_percent?.max?.[n]).toBe(25);
      expect(host?.values.mem_total?.avg[n]).toBe(1000);
    }
  });

  it.each([
    ["1-minute sparklines (kept minutes and raw samples)", "range=1h&points=60"],
    ["5-minute points (the tiers' statement)", "range=6h&points=72"],
  ])("answers only the aggregates asked for: %s", async (_, window) => {
    const query = `ids=${ids(1, 40)},999999&metrics=cpu_percent,mem_limit&${window}`;
    const all = await series(query);
    const avgOnly = await series(`${query}&aggregates=avg`);
    expect(avgOnly.status).toBe(200);
    expect(avgOnly.text).toBe(JSON.stringify(avgOnly.body));
    expect(avgOnly.text.length).toBeLessThan(all.text.length);
    expect(avgOnly.body.ts).toEqual(all.body.ts);
    expect(avgOnly.body.unknown_ids).toEqual([999999]);
    expect(avgOnly.body.series).toEqual(
      all.body.series.map(({ samples: _samples, values, ...front }) => ({
        ...front,
        values: { cpu_percent: { avg: values.cpu_percent?.avg }, mem_limit: { avg: values.mem_limit?.avg } },
      })),
    );
    // The order asked does not matter; mem_limit has no maximum to give.
    const maxAndSamples = await series(`${query}&aggregates=samples,max`);
    expect(maxAndSamples.status).toBe(200);
    expect(maxAndSamples.text).toBe(JSON.stringify(maxAndSamples.body));
    expect(maxAndSamples.body.series).toEqual(
      all.body.series.map(({ values, ...rest }) => ({
        ...rest,
        values: { cpu_percent: { max: values.cpu_percent?.max }, mem_limit: {} },
      })),
    );
    // CSV prints the columns asked for, on the same lines (steps with samples).
    const csvAll = (await get(`/api/v1/stats/series?${query}&format=csv`)).text.trimEnd().split("\r\n");
    const csvAvg = (await get(`/api/v1/stats/series?${query}&format=csv&aggregates=avg`)).text
      .trimEnd()
      .split("\r\n");
    expect(csvAvg[0]).toBe("id,name,host,ts,cpu_percent_avg,mem_limit_avg");
    expect(csvAvg.slice(1)).toEqual(
      csvAll.slice(1).map((line) => {
        const [id, name, host, ts, , cpuAvg, , memAvg] = line.split(",");
        return [id, name, host, ts, cpuAvg, memAvg].join(",");
      }),
    );
    expect(csvAvg.length).toBeGreaterThan(40);
  });

  it("sends a series answer and a chart in parts over a real socket as UTF-8 bytes of the length they announce", async () => {
    // A name outside ASCII: the answer is written as bytes, so its length in bytes is not its
    // length in characters.
    await sql`UPDATE containers SET name = 'wébapp ☃' WHERE id = 510`.execute(postgres.db);
    const { server } = createApiServer({
      fetch: testApp.app.fetch,
      logger: createLogger({ service: "api", level: "silent" }),
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const aggregates of ["avg", "avg,max,samples"]) {
        const response = await fetch(
          `http://127.0.0.1:${port}/api/v1/stats/series?ids=${ids(1, 40)},510&metrics=cpu_percent&range=1h&points=60&aggregates=${aggregates}`,
          { headers: { Authorization: `Bearer ${TEST_READ_TOKEN}` } },
        );
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toMatch(/^application\/json/);
        const bytes = Buffer.from(await response.arrayBuffer());
        expect(Number(response.headers.get("content-length"))).toBe(bytes.byteLength);
        const text = bytes.toString("utf8");
        const body = JSON.parse(text) as SeriesBody;
        expect(text).toBe(JSON.stringify(body));
        expect(body.series).toHaveLength(41);
        expect(body.series.at(-1)?.name).toBe("wébapp ☃");
        expect(body.series.every((entry) => entry.values.cpu_percent?.avg.length === body.ts.length)).toBe(
          true,
        );
      }
      // A chart whose points come in several parts (70 minutes of 10 s steps: 420 points), written
      // as one Buffer: the bytes are the length announced and the answer app.request gives.
      const chart = `/api/v1/containers/7/stats/history?from=${new Date(nowMs - 70 * MINUTE).toISOString()}&step=10s`;
      const response = await fetch(`http://127.0.0.1:${port}${chart}`, {
        headers: { Authorization: `Bearer ${TEST_READ_TOKEN}` },
      });
      expect(response.status).toBe(200);
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(Number(response.headers.get("content-length"))).toBe(bytes.byteLength);
      const body = JSON.parse(bytes.toString("utf8")) as { points: unknown[] };
      expect(body.points.length).toBeGreaterThan(256);
      expect(bytes.toString("utf8")).toBe((await get(chart)).text);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await sql`UPDATE containers SET name = 'c510' WHERE id = 510`.execute(postgres.db);
    }
  });

  it("exports series as CSV, one line per series and step with samples, as the JSON answer holds them", async () => {
    const query = "ids=3,999999,4&metrics=cpu_percent,mem_limit&range=1h&points=60";
    const json = await series(query);
    const csv = await get(`/api/v1/stats/series?${query}&format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.contentType).toBe("text/csv; charset=utf-8");
    const lines = csv.text.trimEnd().split("\r\n");
    expect(lines[0]).toBe("id,name,host,ts,samples,cpu_percent_avg,cpu_percent_max,mem_limit_avg");
    const expected = json.body.series.flatMap((entry) =>
      json.body.ts.flatMap((ts, n) =>
        (entry.samples[n] ?? 0) > 0
          ? [
              [
                entry.id,
                entry.name,
                entry.host,
                ts,
                entry.samples[n],
                entry.values.cpu_percent?.avg[n],
                entry.values.cpu_percent?.max?.[n],
                entry.values.mem_limit?.avg[n],
              ].join(","),
            ]
          : [],
      ),
    );
    expect(expected.length).toBeGreaterThanOrEqual(2 * 60);
    expect(lines.slice(1)).toEqual(expected);
    expect(lines[1]?.startsWith("3,c3,h1,")).toBe(true);

    const hosts = await get("/api/v1/hosts/stats/series?metrics=cpu_percent&points=12&format=csv");
    expect(hosts.status).toBe(200);
    const hostLines = hosts.text.trimEnd().split("\r\n");
    expect(hostLines[0]).toBe("id,name,ts,samples,cpu_percent_avg,cpu_percent_max");
    expect(hostLines.slice(1).every((line) => /^1,h1,[^,]+,\d+,25,25$/.test(line))).toBe(true);
    expect((await get("/api/v1/stats/series?ids=3&metrics=cpu_percent&format=xml")).status).toBe(400);
  });

  it("keeps a long window within 2000 stored rows per series: series take a coarser step, history says the limit", async () => {
    const from = new Date(nowMs - 2 * 24 * 60 * MINUTE).toISOString();
    // 60 points over 2 days would be 48-minute steps, read from 2 880 minute rows: 1 hour instead.
    const coarser = await series(`ids=3&metrics=cpu_percent&from=${from}&points=60`);
    expect(coarser.status).toBe(200);
    expect(coarser.body.step).toBe("1h");
    expect(coarser.body.sources[0]).toBe("hourly");
    const refused = await get<{ error: { code: string; message: string } }>(
      `/api/v1/containers/3/stats/history?from=${from}&step=2m`,
    );
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("invalid_request");
    expect(refused.body.error.message).toMatch(
      /^step: 2m over this window reads about \d+ minute rollup rows per series, more than the limit of 2000; use a step of a multiple of 5 minutes/,
    );
    const hourly = await get<{ granularity: string; sources: string[] }>(
      `/api/v1/containers/3/stats/history?from=${from}&step=1h`,
    );
    expect(hourly.status).toBe(200);
    expect(hourly.body.sources[0]).toBe("hourly");
  });

  it("answers history's points as the JSON text Postgres builds: the text the api made of the same rows", async () => {
    const nowMs = Date.now();
    const windows = [
      { fromMs: nowMs - 60 * MINUTE, stepMs: 1 }, // raw samples
      { fromMs: nowMs - 69 * MINUTE, stepMs: MINUTE }, // minute rows as points, raw at the end
      { fromMs: nowMs - 70 * MINUTE, stepMs: 5 * MINUTE }, // minute rows aggregated
      { fromMs: nowMs - 70 * MINUTE, stepMs: 7_000 }, // raw samples aggregated
    ];
    let mostPoints = 0;
    for (const [id, window] of windows.flatMap((window) =>
      [7, 520, 999_999].map((id) => [id, window] as const),
    )) {
      const range = { fromMs: window.fromMs, toMs: nowMs, stepMs: window.stepMs, nowMs };
      const { points } = await querySeries(postgres.db, CONTAINER_SERIES, id, range);
      const rows = (await seriesPointsJsonSql(CONTAINER_SERIES, id, range)?.query.execute(postgres.db))?.rows;
      const text = pointsJsonPieces(rows ?? []).join("");
      expect(text, `container ${id}, step ${window.stepMs}`).toBe(JSON.stringify(points));
      // Parts of at most 128 points, in order.
      expect(rows?.length).toBe(Math.ceil(points.length / 128));
      if (id === 7) expect(points.length).toBeGreaterThan(5);
      mostPoints = Math.max(mostPoints, points.length);
    }
    // Some window's points span three parts or more, so the parts' order and joins are checked.
    expect(mostPoints).toBeGreaterThan(256);
    // Values the data set has none of: JSON numbers for the same doubles, null for non-finite ones.
    const edges = await sql<{ text: string }>`
      SELECT ${sql.raw(jsonNumberSql("x"))} AS text
      FROM unnest(ARRAY[0.00005, 1e20, 'NaN', 'Infinity', '-Infinity', NULL]::float8[]) WITH ORDINALITY AS v(x, n)
      ORDER BY n`.execute(postgres.db);
    expect(JSON.parse(`[${edges.rows.map((row) => row.text).join(",")}]`)).toEqual([
      0.00005,
      1e20,
      null,
      null,
      null,
      null,
    ]);
    // Through the route: the answer's envelope around that text, a value without samples null.
    const { status, contentType, body } = await get<{
      id: number;
      granularity: string;
      sources: string[];
      points: {
        ts: string;
        samples: number;
        net_rx_bytes_per_s: { avg: number | null; max: number | null };
      }[];
    }>("/api/v1/containers/7/stats/history?range=6h");
    expect(status).toBe(200);
    expect(contentType).toMatch(/^application\/json/);
    expect(body).toMatchObject({ id: 7, granularity: "1m", sources: ["minute", "raw"] });
    expect(body.points.length).toBeGreaterThanOrEqual(69);
    expect(body.points[0]?.net_rx_bytes_per_s).toEqual({ avg: null, max: null });
    expect(body.points.reduce((total, point) => total + point.samples, 0)).toBe(
      Number(
        (
          await sql<{ n: string }>`SELECT count(*) AS n FROM container_stats WHERE container_id = 7`.execute(
            postgres.db,
          )
        ).rows[0]?.n,
      ),
    );
    const none = await get<{ points: unknown[] }>(
      "/api/v1/containers/520/stats/history?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&step=1h",
    );
    expect(none.status).toBe(200);
    expect(none.body.points).toEqual([]);
  });

  it("exports history as CSV, one line per point", async () => {
    const json = await get<{
      points: { ts: string; samples: number; cpu_percent: { avg: number; max: number } }[];
    }>("/api/v1/containers/7/stats/history?range=6h");
    const csv = await get("/api/v1/containers/7/stats/history?range=6h&format=csv");
    expect(csv.status).toBe(200);
    expect(csv.contentType).toBe("text/csv; charset=utf-8");
    const lines = csv.text.trimEnd().split("\r\n");
    expect(lines[0]).toBe(
      "ts,samples,cpu_percent_avg,cpu_percent_max,mem_used_avg,mem_used_max,net_rx_bytes_per_s_avg," +
        "net_rx_bytes_per_s_max,net_tx_bytes_per_s_avg,net_tx_bytes_per_s_max,blk_read_bytes_per_s_avg," +
        "blk_read_bytes_per_s_max,blk_write_bytes_per_s_avg,blk_write_bytes_per_s_max,pids_avg,pids_max," +
        "mem_limit_avg",
    );
    expect(lines).toHaveLength(json.body.points.length + 1);
    const first = json.body.points[0];
    expect(lines[1]?.split(",").slice(0, 4)).toEqual([
      first?.ts,
      String(first?.samples),
      String(first?.cpu_percent.avg),
      String(first?.cpu_percent.max),
    ]);
    expect(lines[1]?.split(",")[6]).toBe(""); // no network rate in the samples
    expect((await get("/api/v1/containers/7/stats/history?format=xml")).status).toBe(400);
  });

  it("keeps closed minutes' points between requests, and a late sample into a kept minute shows up in the next answer", async () => {
    const query = "ids=518,519&metrics=cpu_percent,mem_limit&range=1h&points=60";
    const first = await series(query);
    expect(first.status).toBe(200);
    expect(first.body.sources).toEqual(["minute", "raw"]);
    // A minute the store computed, in the middle of the window: its points are kept now.
    const n = 30;
    const minute = first.body.ts[n] ?? "";
    const before = first.body.series.find((entry) => entry.id === 519);
    expect(before?.samples[n]).toBe(6);
    const computed = await sql<{ fresh: boolean; generation: string }>`
      SELECT computed_generation = generation AS fresh, generation::text FROM rollup_buckets
      WHERE series = 'container_minute' AND bucket = ${minute}::timestamptz`.execute(postgres.db);
    expect(computed.rows[0]?.fresh).toBe(true);
    // A late sample into that minute, marked as ingest marks it (rollup-marks.ts).
    const late = new Date(Date.parse(minute) + 4_500).toISOString();
    await sql`
      INSERT INTO container_stats (container_id, ts, cpu_percent, mem_used, mem_limit, pids)
      VALUES (519, ${late}::timestamptz, 1000, 1, 1000000, 1)`.execute(postgres.db);
    await markLateBuckets(postgres.pool, "container", [late]);
    const expectLate = (body: SeriesBody) => {
      const entry = body.series.find((candidate) => candidate.id === 519);
      expect(body.ts[n]).toBe(minute);
      expect(entry?.samples[n]).toBe(7);
      expect(entry?.values.cpu_percent?.max?.[n]).toBe(1000);
      const avg = ((before?.values.cpu_percent?.avg[n] ?? 0) * 6 + 1000) / 7;
      expect(entry?.values.cpu_percent?.avg[n]).toBeCloseTo(avg, 9);
      // The other container and the other minutes are as they were.
      expect(body.series.find((candidate) => candidate.id === 518)?.samples[n]).toBe(6);
      expect(entry?.samples[n - 1]).toBe(before?.samples[n - 1]);
    };
    // Not computed at its generation now: read from raw samples, late sample included.
    const afterMark = await series(query);
    expect(afterMark.body.from).toBe(first.body.from);
    expectLate(afterMark.body);
    // Computed again by the store: read from the minute tier again, not from what was kept.
    await new RollupJob({
      db: (postgres as unknown as PostgresHandle<StoreDatabase>).db,
      logger: createLogger({ service: "store", level: "silent" }),
      rawRetentionDays: 7,
      granularities: ["minute"],
    }).run();
    const recomputed = await sql<{ fresh: boolean; generation: string }>`
      SELECT computed_generation = generation AS fresh, generation::text FROM rollup_buckets
      WHERE series = 'container_minute' AND bucket = ${minute}::timestamptz`.execute(postgres.db);
    expect(recomputed.rows[0]).toEqual({
      fresh: true,
      generation: String(Number(computed.rows[0]?.generation) + 1),
    });
    const afterRecompute = await series(query);
    expect(afterRecompute.body.sources).toEqual(["minute", "raw"]);
    expectLate(afterRecompute.body);
  });
});
