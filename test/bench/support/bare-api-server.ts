// The benchmark's yardstick: plain Hono on @hono/node-server running the very same SQL text the
// api runs for the history and top-consumer routes (history's points as the JSON text Postgres
// builds, run as the same named prepared statement and written into one Buffer as the api writes
// it), with pg directly and no validation, auth, middleware or response shaping; and the
// raw-samples-only history as the baseline (unprepared, as the api ran it before the minute tier). Started as a child process by test/bench/api.bench.ts.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { PreparedStatements } from "../../../services/api/src/db/prepared-statements.ts";
import {
  CONTAINER_SERIES,
  pointsJsonPieces,
  seriesPointsJsonSql,
  seriesSql,
} from "../../../services/api/src/history/series-query.ts";
import { ByteAnswer } from "../../../services/api/src/http/byte-answer.ts";
import { topSql } from "../../../services/api/src/top/top-query.ts";

const pool = new pg.Pool({ connectionString: process.env.BENCH_DATABASE_URL, max: 10 });
// Only used to turn the statements into SQL text and parameters; queries go to pg directly.
const compiler = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
const prepared = new PreparedStatements(pool);
const HOUR = 3600_000;

const app = new Hono();
app.get("/history/:id", async (c) => {
  const nowMs = Date.now();
  const statement = seriesPointsJsonSql(CONTAINER_SERIES, Number(c.req.param("id")), {
    fromMs: nowMs - 24 * HOUR,
    toMs: nowMs,
    stepMs: 5 * 60_000,
    nowMs,
  });
  if (!statement) return c.json([]);
  const rows = await prepared.query(statement.query.compile(compiler));
  return c.body(new ByteAnswer().push(...pointsJsonPieces(rows)).toBuffer(), 200, {
    "Content-Type": "application/json",
  });
});
// The baseline: the same history from raw samples only, as the api read it before the minute tier.
app.get("/history-raw/:id", async (c) => {
  const nowMs = Date.now();
  const statement = seriesSql(
    CONTAINER_SERIES,
    [Number(c.req.param("id"))],
    { fromMs: nowMs - 24 * HOUR, toMs: nowMs, stepMs: 5 * 60_000, nowMs },
    { sources: ["raw"] },
  );
  if (!statement) return c.json([]);
  const compiled = statement.query.compile(compiler);
  const result = await pool.query(compiled.sql, [...compiled.parameters]);
  return c.json(result.rows);
});
app.get("/top", async (c) => {
  const compiled = topSql({ metric: "cpu", period: "24h", limit: 10, labels: [], nowMs: Date.now() }).compile(
    compiler,
  );
  const result = await pool.query(compiled.sql, [...compiled.parameters]);
  return c.json(result.rows);
});

serve({ fetch: app.fetch, port: Number(process.env.BENCH_PORT), hostname: "127.0.0.1" }, () => {
  console.log(JSON.stringify({ msg: "bare api listening" }));
});
process.on("SIGTERM", () => {
  void pool.end().then(() => process.exit(0));
});
