// GET /stats/series (containers) and /hosts/stats/series: many series in one answer, for
// sparklines and multi-container charts. Up to 500 ids or a filter, one or more values, a range
// and a point count; one statement reads every series from the tiers history uses
// (series-query.ts). The answer is columnar — one time axis, then per series one array per
// value — which is what chart libraries draw from and a fraction of the size of point objects.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { type Kysely, sql } from "kysely";
import type { ApiDatabase } from "../db/api-database.ts";
import type { PreparedStatements } from "../db/prepared-statements.ts";
import { ApiError, errorEnvelope } from "../http/api-error.ts";
import { type AppEnv, rejectInvalidInput } from "../http/app-env.ts";
import { type AnswerPiece, ByteAnswer } from "../http/byte-answer.ts";
import { labelSelectorParam, matchesLabels } from "../http/label-selector.ts";
import { boundedIntegerParam, textParam, timestampParam } from "../http/params.ts";
import { CSV_CONTENT_TYPE, formatParam, type SeriesColumns, seriesCsv } from "./history-csv.ts";
import {
  AGGREGATES,
  type Aggregate,
  answerColumns,
  MinutePointCache,
  minutePoints,
  type RecentMinutes,
  readRecentMinutes,
  type SeriesAsked,
  servesFromMinutes,
} from "./minute-points.ts";
import { alignToSteps, MAX_ROWS_PER_SERIES, RANGE_PRESETS } from "./range-params.ts";
import {
  ALL_SOURCES,
  allValues,
  arrayJson,
  CONTAINER_SERIES,
  HOST_SERIES,
  idArrayText,
  MAX_DIGITS,
  type SeriesSpec,
  seriesColumnsSql,
} from "./series-query.ts";

/** Series per request: 500 sparklines of 60 points read about 30 000 minute rows. */
export const MAX_SERIES = 500;
const MAX_POINTS = 1000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MAX_SPAN_MS = 400 * DAY;
const KUBERNETES_NAMESPACE_LABEL = "io.kubernetes.pod.namespace";

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: errorEnvelope } },
});

/** Positive integers of at most 16 digits, comma-separated: one test for the whole list of 500. */
const ID_LIST = /^[1-9][0-9]{0,15}(?:,[1-9][0-9]{0,15})*$/;
const idListParam = z
  .string()
  .max(MAX_SERIES * 17, `must be at most ${MAX_SERIES} ids`)
  .transform((list, ctx) => {
    const parts = ID_LIST.test(list) ? list.split(",") : [];
    if (parts.length === 0 || !parts.every((part) => Number.isSafeInteger(Number(part)))) {
      ctx.addIssue({ code: "custom", message: "must be positive integer ids, comma-separated" });
      return z.NEVER;
    }
    const ids = [...new Set(parts.map(Number))];
    if (ids.length > MAX_SERIES) {
      ctx.addIssue({ code: "custom", message: `must be at most ${MAX_SERIES} ids` });
      return z.NEVER;
    }
    return ids;
  })
  .openapi({ type: "string", example: "12,40,41" });

function metricsParam(spec: SeriesSpec) {
  const known = allValues(spec);
  return z
    .string()
    .max(500)
    .transform((list, ctx) => {
      const metrics = [...new Set(list.split(","))];
      if (!metrics.every((metric) => known.includes(metric))) {
        ctx.addIssue({
          code: "custom",
          message: `must be comma-separated values out of ${known.join(", ")}`,
        });
        return z.NEVER;
      }
      return metrics;
    })
    .openapi({
      type: "string",
      example: "cpu_percent,mem_used",
      description: `One or more of ${known.join(", ")}.`,
    });
}

const aggregatesParam = z
  .string()
  .max(100)
  .transform((list, ctx) => {
    const asked = [...new Set(list.split(","))];
    if (!asked.every((name): name is Aggregate => (AGGREGATES as readonly string[]).includes(name))) {
      ctx.addIssue({
        code: "custom",
        message: `must be comma-separated values out of ${AGGREGATES.join(", ")}`,
      });
      return z.NEVER;
    }
    return asked;
  })
  .optional()
  .openapi({
    type: "string",
    example: "avg",
    description:
      "What each series holds per step, out of avg, max (gauges only) and samples; default all three. A sparkline needs avg alone: a third of the answer.",
  });

const digitsParam = boundedIntegerParam(MAX_DIGITS, 2).openapi({
  type: "integer",
  minimum: 1,
  maximum: MAX_DIGITS,
  description:
    "Significant digits of every value (not of the sample counts), rounded half away from zero: 3 gives 12.3, 0.00457, 105000000. Default every digit a double prints. A sparkline draws three; the dashboard asks for 3, which makes its answer about a third of the size.",
});

const windowQuery = {
  range: z
    .enum(Object.keys(RANGE_PRESETS) as [keyof typeof RANGE_PRESETS, ...(keyof typeof RANGE_PRESETS)[]])
    .optional()
    .openapi({ description: "A preset window ending now; default 1h. Not combined with from/to." }),
  from: timestampParam.optional(),
  to: timestampParam.optional().openapi({ description: "Default now." }),
  points: boundedIntegerParam(MAX_POINTS, 4).openapi({
    type: "integer",
    minimum: 1,
    maximum: MAX_POINTS,
    default: 60,
    description:
      "Most points per series: the step is the window over this, rounded up to whole minutes (at least one), hours or days; to whole hours when minutes would read more than 2000 minute rows per series (windows over 33h20m), to whole days past 2000 hours.",
  }),
};

const valueColumns = z.object({
  avg: z.array(z.number().nullable()).optional(),
  max: z.array(z.number().nullable()).optional(),
});

function seriesResponse(kind: "container" | "host") {
  return {
    200: {
      description: `One time axis and, per ${kind}, its values at each step (null and 0 samples where it had none)`,
      content: {
        "application/json": {
          schema: z.object({
            from: z.string(),
            to: z.string(),
            step: z.string().openapi({ description: "The step, e.g. 1m, 15m, 2h, 1d" }),
            sources: z.array(z.enum(ALL_SOURCES)),
            metrics: z.array(z.string()),
            ts: z.array(z.string()).openapi({ description: "The start of every step, oldest first" }),
            series: z.array(
              z.object({
                id: z.number().int(),
                name: z.string(),
                host: z.string().optional(),
                samples: z.array(z.number().int()).optional(),
                values: z.record(z.string(), valueColumns),
              }),
            ),
            unknown_ids: z
              .array(z.number().int())
              .openapi({ description: "Ids asked for that do not exist" }),
          }),
        },
        "text/csv": {
          schema: z.string().openapi({
            description: `format=csv: one line per ${kind} and step with samples, ${kind} after ${kind}; unknown ids are left out`,
            example:
              kind === "container"
                ? "id,name,host,ts,samples,cpu_percent_avg,cpu_percent_max\n12,web.1,node-1,2026-12-01T10:00:00.000Z,6,12.5,20\n"
                : "id,name,ts,samples,cpu_percent_avg,cpu_percent_max\n1,node-1,2026-12-01T10:00:00.000Z,6,12.5,20\n",
          }),
        },
      },
    },
    400: errorResponse("A parameter is invalid, or more than 500 series match"),
  };
}

const containerSeriesRoute = createRoute({
  method: "get",
  path: "/stats/series",
  summary: "Series of many containers in one answer (sparklines, multi-container charts)",
  request: {
    query: z.object({
      ids: idListParam.optional().openapi({ description: `Container ids, at most ${MAX_SERIES}` }),
      host: textParam(253).optional(),
      label: labelSelectorParam.optional(),
      compose_project: textParam(256).optional(),
      namespace: textParam(253)
        .optional()
        .openapi({ description: "Kubernetes namespace (the io.kubernetes.pod.namespace label)." }),
      metrics: metricsParam(CONTAINER_SERIES),
      aggregates: aggregatesParam,
      digits: digitsParam,
      ...windowQuery,
      format: formatParam,
    }),
  },
  responses: seriesResponse("container"),
});

const hostSeriesRoute = createRoute({
  method: "get",
  path: "/hosts/stats/series",
  summary: "Series of many hosts in one answer",
  request: {
    query: z.object({
      ids: idListParam
        .optional()
        .openapi({ description: `Host ids, at most ${MAX_SERIES}; default every host` }),
      metrics: metricsParam(HOST_SERIES),
      aggregates: aggregatesParam,
      digits: digitsParam,
      ...windowQuery,
      format: formatParam,
    }),
  },
  responses: seriesResponse("host"),
});

export interface SeriesWindow {
  fromMs: number;
  toMs: number;
  stepMs: number;
  step: string;
}

/** The window and a step that gives at most `points` points, of whole minutes, hours or days. */
export function resolveSeriesWindow(
  query: {
    range?: keyof typeof RANGE_PRESETS | undefined;
    from?: string | undefined;
    to?: string | undefined;
    points?: number | undefined;
  },
  nowMs: number,
): SeriesWindow {
  if (query.range !== undefined && (query.from !== undefined || query.to !== undefined)) {
    throw new ApiError("invalid_request", "range: give either range or from/to, not both");
  }
  if (query.from === undefined && query.to !== undefined) {
    throw new ApiError("invalid_request", "from: required with to");
  }
  const toMs = query.to === undefined ? nowMs : Date.parse(query.to);
  const fromMs =
    query.from === undefined ? toMs - RANGE_PRESETS[query.range ?? "1h"].spanMs : Date.parse(query.from);
  if (!(toMs > fromMs)) throw new ApiError("invalid_request", "to: must be later than from");
  if (toMs - fromMs > MAX_SPAN_MS)
    throw new ApiError("invalid_request", "from: the window may span at most 400 days");
  const wanted = Math.ceil((toMs - fromMs) / (query.points ?? 60));
  const byPoints = wanted > DAY ? DAY : wanted > HOUR ? HOUR : MINUTE;
  // The finest unit whose rows over the window stay within the per-series limit: a step of 48
  // minutes over 2 days would read 2 880 minute rows, so it becomes 1 hour (48 hourly rows).
  // `points` is a most, so a coarser step keeps the promise.
  const fits = (unitMs: number) => (toMs - fromMs) / unitMs <= MAX_ROWS_PER_SERIES;
  const byRows = fits(MINUTE) ? MINUTE : fits(HOUR) ? HOUR : DAY;
  const unitMs = Math.max(byPoints, byRows);
  const count = Math.max(1, Math.ceil(wanted / unitMs));
  const stepMs = count * unitMs;
  const aligned = alignToSteps({ fromMs, toMs, stepMs, granularity: "" });
  const suffix = unitMs === DAY ? "d" : unitMs === HOUR ? "h" : "m";
  return { fromMs: aligned.fromMs, toMs: aligned.toMs, stepMs, step: `${count}${suffix}` };
}

/** The JSON answer as CSV export reads it back. */
type SeriesAnswer = { metrics: string[]; ts: string[]; series: SeriesColumns[] };

interface Subject {
  id: number;
  name: string;
  host?: string;
}

interface SeriesRequest {
  spec: SeriesSpec;
  subjects: Subject[];
  /** The ids asked for, if any: those not among `subjects` are the answer's `unknown_ids`. */
  askedIds: number[] | undefined;
  metrics: string[];
  aggregates: readonly Aggregate[];
  /** Significant digits of the values, if fewer than a double's. */
  digits: number | undefined;
  window: SeriesWindow;
  nowMs: number;
  /** The window's recent minutes, if read before the series were looked up (ids asked for). */
  recent?: RecentMinutes | undefined;
}

/** A 1-minute series request as minute-points.ts reads it. */
function minutesAsked(request: Omit<SeriesRequest, "subjects" | "askedIds" | "recent">): SeriesAsked {
  const { spec, metrics, aggregates, window, nowMs, digits } = request;
  return { spec, values: metrics, columns: answerColumns(spec, metrics, aggregates), window, nowMs, digits };
}

/** The aggregates asked for (default all), if they give the metrics at least one column. */
function askedAggregates(
  spec: SeriesSpec,
  query: { metrics: string[]; aggregates?: Aggregate[] | undefined },
): readonly Aggregate[] {
  const aggregates = query.aggregates ?? AGGREGATES;
  if (answerColumns(spec, query.metrics, aggregates).length === 0) {
    throw new ApiError(
      "invalid_request",
      `aggregates: ${query.metrics.join(", ")} ${query.metrics.length > 1 ? "have" : "has"} no maximum (an average only); ask for avg`,
    );
  }
  return aggregates;
}

async function containersAsked(
  db: Kysely<ApiDatabase>,
  prepared: PreparedStatements,
  query: {
    ids?: number[] | undefined;
    host?: string | undefined;
    label?: { key: string; value: string; equal: boolean }[] | undefined;
    compose_project?: string | undefined;
    namespace?: string | undefined;
  },
): Promise<Subject[]> {
  const filtered =
    query.host !== undefined ||
    query.label !== undefined ||
    query.compose_project !== undefined ||
    query.namespace !== undefined;
  if (query.ids === undefined && !filtered) {
    throw new ApiError(
      "invalid_request",
      "ids: give ids or a filter (host, label, compose_project, namespace)",
    );
  }
  let select = db
    .selectFrom("containers")
    .select(["id", "name", "host"])
    .orderBy("id")
    .limit(MAX_SERIES + 1);
  // One array parameter, not a list of 500 (binding each cost more than the lookup).
  if (query.ids !== undefined)
    select = select.where(sql<boolean>`id = ANY(${idArrayText(query.ids)}::bigint[])`);
  // A filter alone means the containers there now; ids name gone ones too.
  else select = select.where("gone_at", "is", null);
  if (query.host !== undefined) select = select.where("host", "=", query.host);
  if (query.label !== undefined) select = select.where(matchesLabels<ApiDatabase, "containers">(query.label));
  if (query.compose_project !== undefined)
    select = select.where("compose_project", "=", query.compose_project);
  if (query.namespace !== undefined) {
    const clause = { key: KUBERNETES_NAMESPACE_LABEL, value: query.namespace, equal: true };
    select = select.where(matchesLabels<ApiDatabase, "containers">([clause]));
  }
  // Prepared: the text is the same for every request of one kind (ids, or a filter's shape).
  const rows = await prepared.query(select.compile());
  if (rows.length > MAX_SERIES) {
    throw new ApiError("invalid_request", `ids: more than ${MAX_SERIES} containers match; narrow the filter`);
  }
  return rows;
}

async function hostsAsked(db: Kysely<ApiDatabase>, ids: number[] | undefined): Promise<Subject[]> {
  let select = db
    .selectFrom("hosts")
    .select(["id", "name"])
    .orderBy("id")
    .limit(MAX_SERIES + 1);
  if (ids !== undefined) select = select.where(sql<boolean>`id = ANY(${idArrayText(ids)}::bigint[])`);
  const rows = await select.execute();
  if (rows.length > MAX_SERIES)
    throw new ApiError("invalid_request", `ids: more than ${MAX_SERIES} hosts; give ids`);
  return rows;
}

/** `[a,b,…]` of `count` copies of `element`: a column of a series without points. */
const filledArray = (count: number, element: string) =>
  `[${new Array<string>(count).fill(element).join(",")}]`;

/**
 * A series' column whose points do not cover every step in order (gaps, a container started
 * late): its values placed at their steps' indexes, `fill` elsewhere.
 */
function denseColumn(indexes: readonly number[], column: string, steps: number, fill: number | null): string {
  const dense = new Array<number | null>(steps).fill(fill);
  const values = JSON.parse(arrayJson(column)) as (number | null)[];
  indexes.forEach((index, n) => {
    if (index >= 0 && index < steps) dense[index] = values[n] ?? null;
  });
  return JSON.stringify(dense);
}

/**
 * The answer as JSON, in one Buffer. Postgres sends each series' columns as arrays' text
 * (seriesColumnsSql), and where a series has a point at every step — sparklines of running
 * containers — they are the answer's columns as they are: 500 sparklines are 1 MB of numbers,
 * which the api neither parses nor prints. Other series are placed on the steps in JS.
 * 1-minute series of the last hours (sparklines) are joined instead from the closed minutes the
 * api keeps and the raw samples of the minutes the store has not computed (minute-points.ts).
 * The pieces are written once into a Buffer (http/byte-answer.ts), not joined into a string.
 */
async function answer(
  db: Kysely<ApiDatabase>,
  prepared: PreparedStatements,
  cache: MinutePointCache,
  request: SeriesRequest,
): Promise<Buffer<ArrayBuffer>> {
  const { spec, subjects, askedIds, metrics, aggregates, digits, window, nowMs } = request;
  const columns = new Set(answerColumns(spec, metrics, aggregates));
  const steps = Math.round((window.toMs - window.fromMs) / window.stepMs);
  const known = new Set(subjects.map((subject) => subject.id));
  const out = new ByteAnswer();
  const envelope = (sources: readonly string[]) =>
    JSON.stringify({
      from: new Date(window.fromMs).toISOString(),
      to: new Date(window.toMs).toISOString(),
      step: window.step,
      sources,
      metrics,
      ts: Array.from({ length: steps }, (_, n) => new Date(window.fromMs + n * window.stepMs).toISOString()),
    }).slice(0, -1);
  /** One series: its id, name and host, then `samples` and each metric's columns, those asked for. */
  const writeSeries = (subject: Subject, n: number, column: (name: string) => readonly AnswerPiece[]) => {
    const front = JSON.stringify({ id: subject.id, name: subject.name, host: subject.host });
    out.push(n === 0 ? "" : ",", front.slice(0, -1));
    if (columns.has("samples")) out.push(',"samples":', ...column("samples"));
    out.push(',"values":{');
    metrics.forEach((metric, m) => {
      out.push(m === 0 ? "" : ",", `${JSON.stringify(metric)}:{`);
      const avg = columns.has(`${metric}_avg`);
      if (avg) out.push('"avg":', ...column(`${metric}_avg`));
      if (columns.has(`${metric}_max`)) out.push(avg ? ',"max":' : '"max":', ...column(`${metric}_max`));
      out.push("}");
    });
    out.push("}}");
  };
  const finish = (sources: readonly string[], write: () => void) => {
    out.push(envelope(sources), ',"series":[');
    write();
    out.push('],"unknown_ids":', JSON.stringify((askedIds ?? []).filter((id) => !known.has(id))), "}");
    return out.toBuffer();
  };
  if (servesFromMinutes(window, nowMs) && subjects.length > 0) {
    const keys = subjects.map((subject) => subject.id);
    const asked = minutesAsked(request);
    const recent = request.recent ?? (await readRecentMinutes(db, prepared, keys, asked));
    const points = await minutePoints(db, prepared, cache, keys, asked, recent);
    return finish(points.sources, () =>
      subjects.forEach((subject, i) => {
        writeSeries(subject, i, (name) => points.columns.get(name)?.[i] ?? ["[]"]);
      }),
    );
  }
  const statement = seriesColumnsSql(
    spec,
    subjects.map((subject) => subject.id),
    { ...window, nowMs },
    { values: metrics, digits },
  );
  const rows = statement ? (await statement.query.execute(db)).rows : [];
  const byKey = new Map(rows.map((row) => [Number(row.k), row]));
  const everyStep = `{${Array.from({ length: steps }, (_, n) => n).join(",")}}`;
  const noSamples = filledArray(steps, "0");
  const noValues = filledArray(steps, "null");
  return finish(statement?.sources ?? [], () =>
    subjects.forEach((subject, i) => {
      const row = byKey.get(subject.id);
      const indexes =
        row && row.steps !== everyStep ? row.steps.slice(1, -1).split(",").map(Number) : undefined;
      writeSeries(subject, i, (name) => {
        const samples = name === "samples";
        const text = row?.[name];
        if (text === undefined) return [samples ? noSamples : noValues];
        return [indexes ? denseColumn(indexes, text, steps, samples ? 0 : null) : arrayJson(text)];
      });
    }),
  );
}

/**
 * CSV export: the JSON answer read back, with the sample counts whether asked for or not (a line
 * per step with samples), printing the aggregates asked for.
 */
async function csvAnswer(
  db: Kysely<ApiDatabase>,
  prepared: PreparedStatements,
  cache: MinutePointCache,
  request: SeriesRequest,
  printed: readonly Aggregate[],
  withHost: boolean,
): Promise<string> {
  const body = await answer(db, prepared, cache, request);
  const columns = JSON.parse(body.toString()) as SeriesAnswer;
  return seriesCsv(request.spec, columns, withHost, printed);
}

const csvHeaders = (filename: string) => ({
  "Content-Type": CSV_CONTENT_TYPE,
  "Content-Disposition": `attachment; filename="${filename}"`,
});

/** What both series routes' queries have: the window, the values, what of them, the format. */
type SeriesQuery = Parameters<typeof resolveSeriesWindow>[0] & {
  ids?: number[] | undefined;
  metrics: string[];
  aggregates?: Aggregate[] | undefined;
  digits?: number | undefined;
  format?: "json" | "csv" | undefined;
};

/**
 * A series route's answer: JSON bytes, or CSV text. The window and the aggregates are checked
 * before `lookup` reads the containers or hosts asked for.
 */
async function seriesAnswer(
  db: Kysely<ApiDatabase>,
  prepared: PreparedStatements,
  cache: MinutePointCache,
  spec: SeriesSpec,
  query: SeriesQuery,
  lookup: () => Promise<Subject[]>,
  withHost: boolean,
): Promise<string | Buffer<ArrayBuffer>> {
  const nowMs = Date.now();
  const window = resolveSeriesWindow(query, nowMs);
  const printed = askedAggregates(spec, query);
  // CSV prints a line per step with samples, so its answer has the sample counts whether asked or not.
  const aggregates = query.format === "csv" ? [...new Set<Aggregate>([...printed, "samples"])] : printed;
  const asked = { spec, metrics: query.metrics, aggregates, digits: query.digits, window, nowMs };
  // With ids, a 1-minute window's recent minutes are read while the ids are looked up (in
  // parallel, on another pooled connection): they do not depend on which ids exist.
  const early =
    query.ids !== undefined && servesFromMinutes(window, nowMs)
      ? readRecentMinutes(db, prepared, query.ids, minutesAsked(asked))
      : undefined;
  const [subjects, recent] = await Promise.all([lookup(), early]);
  const request = { ...asked, subjects, askedIds: query.ids, recent };
  return query.format === "csv"
    ? csvAnswer(db, prepared, cache, request, printed, withHost)
    : answer(db, prepared, cache, request);
}

export function seriesRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalidInput });
  // The closed minutes' points read so far (minute-points.ts), one cache per tier's series.
  const containerMinutes = new MinutePointCache();
  const hostMinutes = new MinutePointCache();
  app.openapi(containerSeriesRoute, async (c) => {
    const query = c.req.valid("query");
    const { db, prepared } = c.var;
    const lookup = () => containersAsked(db, prepared, query);
    const result = await seriesAnswer(db, prepared, containerMinutes, CONTAINER_SERIES, query, lookup, true);
    return typeof result === "string"
      ? c.body(result, 200, csvHeaders("containers-series.csv"))
      : c.body(result, 200, { "Content-Type": "application/json" });
  });
  app.openapi(hostSeriesRoute, async (c) => {
    const query = c.req.valid("query");
    const { db, prepared } = c.var;
    const lookup = () => hostsAsked(db, query.ids);
    const result = await seriesAnswer(db, prepared, hostMinutes, HOST_SERIES, query, lookup, false);
    return typeof result === "string"
      ? c.body(result, 200, csvHeaders("hosts-series.csv"))
      : c.body(result, 200, { "Content-Type": "application/json" });
  });
  return app;
}
